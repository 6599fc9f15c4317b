using System.Globalization;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// The instances of a federation announce themselves on the downstream's <c>federation.presence.*</c> subjects, and that
/// namespace is never federated, whatever a policy matches (docs/multiple-hosts.md). On a NATS downstream read through its
/// <c>monitor-port</c> without <c>namespaces</c>, the first token of a subject is the exchange: the engine's own presence
/// subscriptions made an exchange <c>federation</c>, which a policy such as <c>^fed</c> federated, so the link subscribed
/// upstream to the presence subjects of the federation and forwarded the upstream side's presence messages and beacons
/// into this downstream.
/// </summary>
public sealed class NatsPresenceNotFederatedTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private NatsServerProcess _downstream = null!;
    private NatsServerProcess _upstream = null!;

    public async Task InitializeAsync()
    {
        _downstream = await NatsServerProcess.StartJetStreamAsync("presence-down");
        _upstream = await NatsServerProcess.StartAsync("-n", "presence-up");
    }

    public async Task DisposeAsync()
    {
        await _downstream.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task The_presence_subjects_of_a_nats_downstream_are_not_taken_for_an_exchange_to_federate()
    {
        var monitor = _downstream.MonitorPort.ToString(CultureInfo.InvariantCulture);
        var options = new FederationOptions { Downstream = { Uri = $"{_downstream.Url}?monitor-port={monitor}&monitor-interval-ms=50&cluster-name=presence-fed" } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { $"{_upstream.Url}?cluster-name=presence-up" } };
        options.Policies["fed"] = new FederationPolicy { Pattern = "^fed", Definition = new FederationPolicyDefinition { FederationUpstreamSet = "all" } };
        await using var engine = new FederationEngine(options, [new NatsTransport()]);
        await engine.StartAsync(CancellationToken.None);

        // The engine's presence subscriptions are on the downstream before the application's interest, so the poll that
        // brings the application's exchange has seen them too.
        await EventuallyAsync(async () => (await SubjectsAsync()).Any(s => s.StartsWith("federation.presence.", StringComparison.Ordinal)), "the engine's presence subscriptions on the downstream");
        await using var application = new NatsConnection(new NatsOpts { Url = _downstream.Url, Name = "application" });
        await using var subscription = await application.SubscribeCoreAsync<string>("fedorders.eu");
        await application.PingAsync();

        await EventuallyAsync(() => Task.FromResult(engine.GetLinks().Any(l => l.Exchange == "fedorders" && l.State == LinkState.Running)), "the link of fedorders running");
        var links = engine.GetLinks();
        Assert.DoesNotContain(links, l => l.Exchange == "federation");
        Assert.Equal(["fedorders"], links.Select(l => l.Exchange).ToArray());
    }

    private async Task<List<string>> SubjectsAsync()
    {
        using var http = new HttpClient();
        var json = await http.GetStringAsync(new Uri($"http://127.0.0.1:{_downstream.MonitorPort.ToString(CultureInfo.InvariantCulture)}/subsz?subs=1"));
        using var document = System.Text.Json.JsonDocument.Parse(json);
        return document.RootElement.TryGetProperty("subscriptions_list", out var list)
            ? [.. list.EnumerateArray().Select(s => s.GetProperty("subject").GetString() ?? "")]
            : [];
    }

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}");
            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }
    }
}
