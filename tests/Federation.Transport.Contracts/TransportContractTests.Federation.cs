using Federation.Core.Hops;
using Federation.Core.Transport;
using Xunit;

namespace Federation.Transport.Contracts;

public abstract partial class TransportContractTests
{
    private const string DownstreamCluster = "contract-downstream";
    private const string DownstreamVirtualHost = "contract-vhost";

    [Fact]
    public async Task FederationUpstreamExchange_IsDeclarable_OrReportedAsUnsupported()
    {
        var connection = await OpenAsync();
        var name = UniqueName("federation-upstream");
        DeleteAfterTest(exchange: name);

        try
        {
            await connection.DeclareExchangeAsync(FederationUpstreamExchange(name, maxHops: 1), Ct);
        }
        catch (ExchangeTypeNotSupportedException)
        {
            Assert.False(await (await OpenAsync()).ExchangeExistsAsync(name, Ct));
            return;
        }

        Assert.True(await connection.ExchangeExistsAsync(name, Ct));
    }

    [Fact]
    public async Task FederationUpstreamExchange_ForwardsOnlyMessagesPassingHopAndCycleChecks_RequiresHopRules()
    {
        var connection = await OpenAsync();
        var upstream = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Fanout);
        var gate = UniqueName("federation-upstream");
        DeleteAfterTest(exchange: gate);
        try
        {
            await connection.DeclareExchangeAsync(FederationUpstreamExchange(gate, maxHops: 2), Ct);
        }
        catch (ExchangeTypeNotSupportedException)
        {
            // A broker without the plugin: the link falls back to a fanout and checks hops itself. The refusal leaves nothing behind.
            Assert.False(await connection.ExchangeExistsAsync(gate, Ct));
            return;
        }

        var queue = await DeclareQueueAsync(connection);
        await connection.BindAsync(new BindingSpec(upstream, gate, BindingDestinationKind.Exchange, string.Empty), noWait: false, Ct);
        await connection.BindAsync(new BindingSpec(gate, queue, BindingDestinationKind.Queue, string.Empty), noWait: false, Ct);
        var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, Ct);
        var publisher = await OpenPublisherAsync(connection);

        await PublishAsync(publisher, upstream, "k", "fresh");
        await PublishAsync(publisher, upstream, "k", "one-hop", Trail(("elsewhere", "/")));
        await PublishAsync(publisher, upstream, "k", "two-hops", Trail(("elsewhere", "/"), ("further", "/")));
        await PublishAsync(publisher, upstream, "k", "cycle", Trail((DownstreamCluster, DownstreamVirtualHost)));

        Assert.Equal(["fresh", "one-hop"], await ReceivedBeforeMarkerAsync(publisher, queue, recorder));
    }

    private static ExchangeSpec FederationUpstreamExchange(string name, long maxHops) => new(
        name,
        ExchangeSpec.Types.FederationUpstream,
        Durable: true,
        AutoDelete: true,
        Internal: true,
        Arguments: new Dictionary<string, object?>
        {
            [HopHeaders.MaxHopsArgument] = maxHops,
            [HopHeaders.DownstreamNameArgument] = DownstreamCluster,
            [HopHeaders.DownstreamVhostArgument] = DownstreamVirtualHost,
            [HopHeaders.InternalPurposeArgument] = HopHeaders.InternalPurposeValue,
        });

    private static Dictionary<string, object?> Trail(params (string ClusterName, string VirtualHost)[] hops) => new()
    {
        [HopHeaders.ReceivedFrom] = hops.Select(hop => (object?)new Dictionary<string, object?>
        {
            ["uri"] = $"amqp://{hop.ClusterName}",
            ["exchange"] = "upstream",
            ["redelivered"] = false,
            ["cluster-name"] = hop.ClusterName,
            ["vhost"] = hop.VirtualHost,
        }).ToList(),
    };
}
