using System.Globalization;
using System.Text.Json;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests.Interop;

/// <summary>
/// A third-party client on both ends: the npm <c>amqplib</c> client declares and binds downstream and publishes upstream;
/// our link in between propagates its binding and forwards the message with the plugin's x-received-from entry.
/// The driver script and its package live in tests/interop (.ci/run installs them with npm ci).
/// </summary>
[Collection(FederationNodesCollection.Name)]
public sealed class AmqplibInteropTests(FederationNodesFixture nodes)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task Amqplib_binds_downstream_and_publishes_upstream_through_our_link()
    {
        var exchange = $"fed.interop.{Guid.NewGuid():N}";
        var options = new FederationOptions { Downstream = { Uri = nodes.Downstream.AmqpUri() } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { nodes.Upstream.AmqpUri() } };
        options.Policies["interop"] = new FederationPolicy { Pattern = "^fed\\.interop\\.", Definition = { FederationUpstream = "up" } };
        await using var engine = new FederationEngine(options, [new AmqpTransport()]);
        await engine.StartAsync(CancellationToken.None);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!engine.IsDownstreamConnected)
        {
            Assert.True(DateTime.UtcNow < deadline, "the downstream never connected");
            await Task.Delay(PollInterval);
        }

        var (exitCode, output, error) = await NodeScript.RunAsync("amqplib", "amqplib-bind-publish-consume.mjs",
            Port(nodes.Downstream.AmqpPort), Port(nodes.Upstream.AmqpPort), Port(nodes.Upstream.ManagementPort), exchange);
        Assert.True(exitCode == 0, $"node exited with {exitCode}: {error}");
        Assert.Contains(engine.GetLinks(), l => l.Exchange == exchange && l.State == LinkState.Running);

        using var received = JsonDocument.Parse(output.Trim().Split('\n').Last());
        Assert.Equal("order.created", received.RootElement.GetProperty("routingKey").GetString());
        Assert.Equal("hello from amqplib", received.RootElement.GetProperty("body").GetString());
        var hop = Assert.Single(received.RootElement.GetProperty("trail").EnumerateArray());
        Assert.Equal(nodes.Upstream.ClusterName, hop.GetProperty("cluster-name").GetString());
        Assert.Equal(exchange, hop.GetProperty("exchange").GetString());
        Assert.False(hop.GetProperty("redelivered").GetBoolean());
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

}
