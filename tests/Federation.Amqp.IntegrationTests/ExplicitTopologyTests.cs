using System.Net.Sockets;
using System.Text;
using Federation.Amqp.IntegrationTests.Scenarios;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Topology;
using Federation.Core.Transport;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// Explicit mode over real RabbitMQ: the host declares the federated exchange and its bindings through
/// <see cref="ExplicitTopology"/>; the library declares them downstream and propagates the bindings upstream. The
/// downstream node has neither the management API nor the event exchange. (The upstream is the shared upstream node: the
/// link declares its internal exchange there through the management API, since RabbitMQ.Client cannot send
/// <c>internal</c> on exchange.declare.)
/// </summary>
[Collection(FederationNodesCollection.Name)]
public sealed class ExplicitTopologyTests(FederationNodesFixture nodes, PluginlessNodeFixture fixture) : IClassFixture<PluginlessNodeFixture>, IAsyncLifetime
{
    private readonly ScenarioContext context = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await context.DisposeAsync();

    [Fact]
    public async Task Declared_bindings_federate_without_management_or_event_plugins()
    {
        // Nothing listens on the management port: the observing mode could not work on this node.
        using (var probe = new TcpClient())
        {
            await Assert.ThrowsAsync<SocketException>(() => probe.ConnectAsync("127.0.0.1", fixture.Node.ManagementPort));
        }

        var exchange = ScenarioContext.UniqueName("fed.orders");
        var downstream = await context.ChannelAsync(fixture.Node);
        var upstream = await context.ChannelAsync(nodes.Upstream);
        context.DeleteLater(nodes.Upstream, exchange);

        // The host declares its queue; not exclusive, since the library binds it from its own connection.
        var queue = ScenarioContext.UniqueName("orders-eu");
        await downstream.QueueDeclareAsync(queue, durable: false, exclusive: false, autoDelete: false);

        var topology = new ExplicitTopology();
        topology.DeclareExchange(new ExchangeSpec(exchange, ExchangeSpec.Types.Topic));
        var binding = new BindingSpec(exchange, queue, BindingDestinationKind.Queue, "eu.#");
        topology.Bind(binding);
        var engine = await context.StartEngineAsync(ScenarioContext.Options(fixture.Node, exchange, ("up", nodes.Upstream, null)), topology);
        await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);

        // The library declared the exchange and the binding downstream, and the binding propagated upstream.
        Assert.Contains($"{exchange}\tqueue\t{queue}\teu.#", await fixture.Ctl("list_bindings", "source_name", "destination_kind", "destination_name", "routing_key"), StringComparison.Ordinal);
        await Poll.UntilAsync(async () => (await UpstreamBindingKeys(exchange)).Contains("eu.#") ? "" : null, "the binding should reach the upstream");

        for (var i = 0; i < 10; i++)
        {
            await ScenarioContext.PublishAsync(upstream, exchange, i % 2 == 0 ? "eu.created" : "us.created", $"m{i}");
        }

        var received = new List<string>();
        await Poll.UntilAsync(async () =>
        {
            while (await downstream.BasicGetAsync(queue, autoAck: true) is { } message)
            {
                received.Add(Encoding.UTF8.GetString(message.Body.Span));
            }

            return received.Count >= 5 ? received : null;
        }, "the five eu messages should arrive downstream");
        Assert.Equal(["m0", "m2", "m4", "m6", "m8"], received);

        // Unbinding through the library removes the binding on both sides.
        topology.Unbind(binding);
        await Poll.UntilAsync(async () => (await UpstreamBindingKeys(exchange)).Contains("eu.#") ? null : "", "the binding should leave the upstream");
        Assert.DoesNotContain($"{exchange}\tqueue\t{queue}", await fixture.Ctl("list_bindings", "source_name", "destination_kind", "destination_name"), StringComparison.Ordinal);
        await downstream.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false);
    }

    /// <summary>Routing keys of the bindings from the upstream exchange to the federation's internal exchange.</summary>
    private async Task<List<string>> UpstreamBindingKeys(string exchange)
    {
        var result = await nodes.Upstream.CtlAsync(CancellationToken.None, "list_bindings", "source_name", "destination_name", "routing_key");
        return [.. result.Output.Split('\n')
            .Select(line => line.Split('\t'))
            .Where(fields => fields.Length == 3 && fields[0] == exchange && fields[1].StartsWith("federation: ", StringComparison.Ordinal))
            .Select(fields => fields[2].Trim())];
    }
}
