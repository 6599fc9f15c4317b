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
    private IDisposable? _reloadSubscription;
    private FederationEngine? _engine;

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

    private void OnReload(FederationOptions updated) => _ = ApplyAsync(updated);

    // Fire-and-forget from the change callback, so it must never throw: whatever goes wrong is logged, and the engine
    // stays ready for the next reload.
    private async Task ApplyAsync(FederationOptions updated)
    {
        try
        {
            await _engine!.UpdateAsync(updated, CancellationToken.None).ConfigureAwait(false);
            Log.Reloaded(logger);
        }
        catch (FederationConfigurationException ex)
        {
            Log.ReloadRejected(logger, ex.Errors.Count, string.Join("; ", ex.Errors));
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
