using Federation.Core.Diagnostics;
using Federation.Core.Model;
using Federation.Core.Transport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Federation.Core.Hosting;

/// <summary>
/// Starts the engine with the host without blocking it (links connect in the background and report through status and
/// health), applies configuration reloads, and stops links cleanly with the host.
/// </summary>
internal sealed class FederationHostedService(
    IServiceProvider services,
    IOptionsMonitor<FederationOptions> options,
    ILogger<FederationHostedService> logger) : IHostedService, IDisposable
{
    // Errors listed in a refused reload's one log line; the rest are counted.
    internal const int MaxErrorsLogged = 50;

    private readonly Lock _gate = new();
    private IDisposable? _reloadSubscription;
    private FederationEngine? _engine;
    private string? _lastRefused;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var validation = FederationOptionsValidator.Validate(options.CurrentValue, services.GetServices<ITransport>());
        if (validation.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(FederationOptions), validation.Failures);
        }

        _engine = services.GetRequiredService<FederationEngine>();
        await _engine.StartAsync(cancellationToken).ConfigureAwait(false);
        _reloadSubscription = options.OnChange(OnReload);
    }

    /// <summary>
    /// Stops the engine within the host's shutdown deadline (<paramref name="cancellationToken"/>): the engine abandons
    /// what is still stopping when it fires. Never throws, so that the host always gets to exit cleanly.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _reloadSubscription?.Dispose();
        _reloadSubscription = null;
        if (_engine is null)
        {
            return;
        }

        try
        {
            await _engine.StopAsync(cancellationToken).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A failing stop must not turn a clean shutdown into a crash; it is logged.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.StopFailed(logger, ex, "the federation engine");
        }
    }

    public void Dispose() => _reloadSubscription?.Dispose();

    // Change callbacks come twice for one save of a settings file (the file system reports the write in steps), and for
    // changes outside the federation's keys. So a reload that brings the configuration already running is skipped
    // (compared on the engine's loop), and one refused for the same errors as the last is not reported again. Validation
    // and posting to the engine happen under the lock, so that reloads reach the engine in the order they came.
    private void OnReload(FederationOptions updated)
    {
        Task<bool> applying;
        lock (_gate)
        {
            try
            {
                // After a refusal, a configuration equal to the running one is the operator's fix: say it was taken.
                applying = _lastRefused is null
                    ? _engine!.UpdateIfChangedAsync(updated, CancellationToken.None)
                    : AppliedAsync(_engine!.UpdateAsync(updated, CancellationToken.None));
                _lastRefused = null;
            }
            catch (FederationConfigurationException ex)
            {
                var errors = string.Join("; ", ex.Errors);
                if (errors != _lastRefused)
                {
                    _lastRefused = errors;

                    // One log line: a file with thousands of mistakes made one of about 1 MB. The first ones say what is
                    // wrong, and validating the configuration lists them all.
                    Log.ReloadRejected(logger, ex.Errors.Count, ex.Errors.Count <= MaxErrorsLogged
                        ? errors
                        : string.Join("; ", ex.Errors.Take(MaxErrorsLogged)) + $"; and {ex.Errors.Count - MaxErrorsLogged} more");
                }

                return;
            }
#pragma warning disable CA1031 // Thrown into the change callback, a failure would reach whoever raised the change; it is logged here.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.ReloadFailed(logger, FailureEpisode.Describe(ex));
                return;
            }
        }

        _ = ReportAsync(applying);
    }

    private static async Task<bool> AppliedAsync(Task update)
    {
        await update.ConfigureAwait(false);
        return true;
    }

    // Fire-and-forget from the change callback, so it must never throw: whatever goes wrong is logged, and the engine
    // stays ready for the next reload.
    private async Task ReportAsync(Task<bool> applying)
    {
        try
        {
            if (await applying.ConfigureAwait(false))
            {
                Log.Reloaded(logger);
            }
        }
        catch (ObjectDisposedException)
        {
            // The host is shutting down.
        }
#pragma warning disable CA1031 // A reload runs in the background: nothing above it would see the failure, so it is logged here.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.ReloadFailed(logger, FailureEpisode.Describe(ex));
        }
    }
}
