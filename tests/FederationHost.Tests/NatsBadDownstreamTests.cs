using System.Globalization;
using Federation.Testing.Brokers;

namespace FederationHost.Tests;

/// <summary>
/// A host whose NATS downstream is on a port nobody listens on. The URI's <c>namespaces</c> and <c>cluster-name</c> say
/// which links it will run, with which ids, before any connection: they are listed with the downstream's error from the
/// start and after a reload that points the host there, the host keeps retrying, and once the downstream can be reached
/// the same links run.
/// </summary>
public sealed class NatsBadDownstreamTests : IAsyncLifetime
{
    private const string User = "federator";
    private const string Password = "nats-pa55-never-shown";
    private static readonly string[] Exchanges = ["invoices", "orders"];
    private NatsServerProcess _upstream = null!;
    private NatsServerProcess _downstream = null!;

    public async Task InitializeAsync()
    {
        _upstream = await NatsServerProcess.StartAsync("-n", "nats-a", "--user", User, "--pass", Password);
        _downstream = await NatsServerProcess.StartAsync("-n", "nats-b");
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        await _downstream.DisposeAsync();
    }

    [Fact]
    public async Task At_start_a_closed_port_lists_the_links_of_the_uris_namespaces_with_the_downstreams_error_until_it_can_be_reached()
    {
        await using var host = await RunningHost.StartAsync(Settings(DownstreamUri(FreePorts.Next())));

        var pending = await DownstreamDownListing.AssertEveryLinkListedAsync(host, Exchanges, "Could not connect to NATS server", Password);
        Assert.All(pending, l => Assert.Equal("starting", l.GetProperty("state").GetString()));
        await DownstreamDownListing.AssertStillRetryingAsync(host);

        // The ids listed are those the links get once the downstream is reached.
        host.Configuration.Update([new("Federation:Downstream:uri", DownstreamUri(_downstream.Port))]);
        var running = await Eventually.UntilAsync(
            () => host.GetLinksAsync(),
            l => l.Length == 2 && l.All(x => x.GetProperty("state").GetString() == "running" && x.GetProperty("error").GetString() is null),
            "both links running once the downstream can be reached",
            TimeSpan.FromSeconds(30));
        Assert.Equal(Ids(pending), Ids(running));
    }

    [Fact]
    public async Task After_a_reload_to_a_closed_port_every_link_stays_listed_with_the_downstreams_error()
    {
        await using var host = await RunningHost.StartAsync(Settings(DownstreamUri(_downstream.Port)));
        var running = await Eventually.UntilAsync(
            () => host.GetLinksAsync(),
            l => l.Length == 2 && l.All(x => x.GetProperty("state").GetString() == "running"),
            "both links running",
            TimeSpan.FromSeconds(30));

        host.Configuration.Update([new("Federation:Downstream:uri", DownstreamUri(FreePorts.Next()))]);

        var listed = await DownstreamDownListing.AssertEveryLinkListedAsync(host, Exchanges, "Could not connect to NATS server", Password);
        Assert.Equal(Ids(running), Ids(listed));
        await DownstreamDownListing.AssertStillRetryingAsync(host);
    }

    private static string DownstreamUri(int port) => $"nats://127.0.0.1:{Port(port)}?cluster-name=nats-b&namespaces=orders,invoices&connect-timeout-ms=5000";

    private Dictionary<string, string?> Settings(string downstreamUri) => new()
    {
        ["Host:CreateInMemoryBrokers"] = "false",
        ["Federation:Downstream:uri"] = downstreamUri,
        ["Federation:Upstreams:nats-a:uri"] = $"nats://{User}:{Password}@127.0.0.1:{Port(_upstream.Port)}?cluster-name=nats-a",
        ["Federation:Upstreams:nats-a:max-hops"] = "1",
        ["Federation:Policies:all:pattern"] = "^(orders|invoices)$",
        ["Federation:Policies:all:apply-to"] = "exchanges",
        ["Federation:Policies:all:definition:federation-upstream"] = "nats-a",
        [DownstreamDownListing.DebugAttempts.Key] = DownstreamDownListing.DebugAttempts.Value,
    };

    private static string[] Ids(IEnumerable<System.Text.Json.JsonElement> links) => [.. links.Select(l => l.GetProperty("id").GetString()!).Order(StringComparer.Ordinal)];

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
