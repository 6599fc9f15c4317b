using System.Globalization;
using System.Text.Json;
using Federation.Testing.Brokers;
using Microsoft.Extensions.Configuration;

namespace FederationHost.Tests;

/// <summary>Two real RabbitMQ nodes for the host's AMQP recipe: an upstream and a downstream, with distinct cluster names.</summary>
public sealed class TwoRabbitMqNodesFixture : RabbitMqNodePairFixture;

/// <summary>
/// The README's "Two local RabbitMQ nodes" recipe, automated: the host is configured only from
/// <c>appsettings.Amqp.example.json</c> (with the test nodes' ports in place of 5672/5673, 15672/15673), with amqp:// URIs
/// that carry credentials. The npm <c>amqplib</c> client binds a queue downstream and publishes upstream; the message
/// arrives through the host's link, and <c>/federation/links</c> shows that link running with its URI redacted.
/// </summary>
public sealed class AmqpHostTests(TwoRabbitMqNodesFixture nodes) : IClassFixture<TwoRabbitMqNodesFixture>
{
    [Fact]
    public async Task The_readme_recipe_federates_two_rabbitmq_nodes_for_amqplib_clients()
    {
        var settings = ExampleSettings();
        await using var host = await RunningHost.StartAsync(settings);
        var exchange = $"federated.orders.{Guid.NewGuid():N}";

        var (exitCode, output, error) = await NodeScript.RunAsync("amqplib", "amqplib-bind-publish-consume.mjs",
            Port(nodes.Downstream.AmqpPort), Port(nodes.Upstream.AmqpPort), Port(nodes.Upstream.ManagementPort), exchange);
        Assert.True(exitCode == 0, $"node exited with {exitCode}: {error}\n{output}");
        using var received = JsonDocument.Parse(output.Trim().Split('\n').Last());
        Assert.Equal("order.created", received.RootElement.GetProperty("routingKey").GetString());
        Assert.Equal("hello from amqplib", received.RootElement.GetProperty("body").GetString());
        var hop = Assert.Single(received.RootElement.GetProperty("trail").EnumerateArray());
        Assert.Equal(nodes.Upstream.ClusterName, hop.GetProperty("cluster-name").GetString());

        var links = await Eventually.UntilAsync(() => host.GetLinksAsync(), l => l.Any(x => x.GetProperty("exchange").GetString() == exchange), "the link in /federation/links");
        var link = Assert.Single(links);
        Assert.Equal("running", link.GetProperty("state").GetString());
        Assert.Equal("rabbit-5673", link.GetProperty("upstream").GetString());
        Assert.Equal(nodes.Upstream.DisplayUri(), link.GetProperty("uri").GetString(), ignoreCase: true);
        var body = await host.Http.GetStringAsync("/federation/links");
        Assert.DoesNotContain("guest", body, StringComparison.Ordinal);
    }

    /// <summary>The shipped example file, as configuration keys, pointed at this fixture's nodes and a free loopback port.</summary>
    private Dictionary<string, string?> ExampleSettings()
    {
        var file = FindExample();
        var example = new ConfigurationBuilder().AddJsonFile(file).Build();
        var settings = example.AsEnumerable().Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.OrdinalIgnoreCase);

        // The recipe's ports (README: upstream 5673/15673, downstream 5672/15672) become the nodes'; nothing else changes.
        var downstreamUri = settings["Federation:Downstream:uri"]!;
        var upstreamUri = settings["Federation:Upstreams:rabbit-5673:uri"]!;
        Assert.Equal("amqp://guest:guest@127.0.0.1:5672/%2f?management-port=15672", downstreamUri);
        Assert.Equal("amqp://guest:guest@127.0.0.1:5673/%2f?management-port=15673", upstreamUri);
        settings["Federation:Downstream:uri"] = WithPorts(downstreamUri, nodes.Downstream, 5672, 15672);
        settings["Federation:Upstreams:rabbit-5673:uri"] = WithPorts(upstreamUri, nodes.Upstream, 5673, 15673);
        settings.Remove("Host:Url"); // RunningHost listens on a port the OS picks
        return settings;
    }

    private static string WithPorts(string uri, RabbitMqNode node, int recipeAmqpPort, int recipeManagementPort) =>
        uri.Replace($"127.0.0.1:{Port(recipeAmqpPort)}/", $"127.0.0.1:{Port(node.AmqpPort)}/", StringComparison.Ordinal)
           .Replace($"management-port={Port(recipeManagementPort)}", $"management-port={Port(node.ManagementPort)}", StringComparison.Ordinal);

    private static string FindExample()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "examples", "FederationHost", "appsettings.Amqp.example.json");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("examples/FederationHost/appsettings.Amqp.example.json not found above " + AppContext.BaseDirectory);
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
