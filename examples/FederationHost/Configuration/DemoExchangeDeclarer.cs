using Federation.Core.InMemory;
using Federation.Core.Model;
using Federation.Core.Transport;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FederationHost.Configuration;

/// <summary>
/// Demo behaviour: declares the exchanges listed in <c>Host:Demo:Exchanges</c> on an in-memory downstream, standing in
/// for the applications that would declare them on a real broker, so <c>dotnet run</c> shows running links. It does
/// nothing for other schemes: on a real broker the applications own their exchanges.
/// </summary>
internal sealed partial class DemoExchangeDeclarer(
    HostSettings settings,
    InMemoryBrokerRegistry registry,
    IOptionsMonitor<FederationOptions> options,
    ILogger<DemoExchangeDeclarer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var downstream = options.CurrentValue.Downstream.Uri;
        if (InMemoryBrokerProvisioner.BrokerName(downstream) is not { } name || !registry.TryGet(name, out var broker))
        {
            return;
        }

        await using var connection = await broker.ConnectAsync(connectionName: "federation-host-demo", cancellationToken: cancellationToken);
        foreach (var exchange in settings.DemoExchanges)
        {
            await connection.DeclareExchangeAsync(new ExchangeSpec(exchange, ExchangeSpec.Types.Topic), cancellationToken);
            LogDeclared(logger, exchange, name);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "Declared the demo exchange '{Exchange}' on the in-memory broker '{Broker}'.")]
    private static partial void LogDeclared(ILogger logger, string exchange, string broker);
}
