using Federation.Core.Collectives;
using Federation.Core.Diagnostics;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Federation.Core.Hosting;

/// <summary>Runs one registered <see cref="FederationBroker"/> for the lifetime of the host.</summary>
internal sealed class FederationBrokerHostedService(
    string name,
    IOptionsMonitor<FederationBrokerOptions> options,
    IEnumerable<ISubjectTransport> transports,
    FederationTelemetry telemetry,
    ILoggerFactory? loggerFactory,
    TimeProvider? timeProvider) : IHostedService, IAsyncDisposable
{
    private FederationBroker? _broker;

    /// <summary>Validates the options (throwing <see cref="OptionsValidationException"/> with every error) and connects.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var broker = new FederationBroker(options.Get(name), transports, telemetry, loggerFactory, timeProvider);
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
    }

    public Task StopAsync(CancellationToken cancellationToken) =>
        _broker?.StopAsync(cancellationToken) ?? Task.CompletedTask;

    public ValueTask DisposeAsync() => _broker?.DisposeAsync() ?? ValueTask.CompletedTask;
}
