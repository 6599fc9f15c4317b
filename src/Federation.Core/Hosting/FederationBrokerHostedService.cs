using Federation.Core.Collectives;
using Federation.Core.Diagnostics;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Federation.Core.Hosting;

/// <summary>Runs one registered <see cref="FederationBroker"/> for the lifetime of the host.</summary>
internal sealed class FederationBrokerHostedService(
    string name,
    IOptionsMonitor<FederationBrokerOptions> options,
    IEnumerable<ISubjectTransport> transports,
    FederationTelemetry telemetry,
    ILoggerFactory? loggerFactory,
    TimeProvider? timeProvider,
    FederationBrokerInstances instances) : IHostedService, IAsyncDisposable
{
    private FederationBroker? _broker;

    /// <summary>
    /// Validates the options (throwing <see cref="OptionsValidationException"/> with every error) and connects. An unreachable
    /// server does not fail the start: the broker retries in the background and <see cref="FederationBrokerHealthCheck"/>
    /// reports it.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var configured = options.Get(name);

        // Named here, when the instance starts, rather than when the options are first resolved: resolving them elsewhere (a
        // configuration check on a throwaway provider) takes no default name. Set on the options, which the monitor caches,
        // so that whoever reads them afterwards (a status page matching options to running instances) sees the name in use.
        configured.InstanceName ??= DefaultBrokerInstanceName.Next(name);
        var broker = new FederationBroker(configured, transports, telemetry, loggerFactory, timeProvider);
        try
        {
            await broker.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await broker.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        _broker = broker;
        instances.Add(broker);
    }

    /// <summary>
    /// Stops the broker within the host's shutdown deadline (<paramref name="cancellationToken"/>). When it fires first,
    /// the broker's stop is abandoned and logged at warning. Never throws, so that the host always gets to exit cleanly.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_broker is not { } broker)
        {
            return;
        }

        instances.Remove(broker);
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<FederationBrokerHostedService>();
        try
        {
            await broker.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Log.StopAbandoned(logger, $"stopping federation broker '{name}'");
        }
#pragma warning disable CA1031 // A failing stop must not turn a clean shutdown into a crash; it is logged.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.StopFailed(logger, ex, $"federation broker '{name}'");
        }
    }

    public ValueTask DisposeAsync() => _broker?.DisposeAsync() ?? ValueTask.CompletedTask;
}
