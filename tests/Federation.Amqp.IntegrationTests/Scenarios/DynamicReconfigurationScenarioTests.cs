using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Testing.Brokers;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// exchange_SUITE dynamic_reconfiguration over AMQP: C's exchange is federated (upstream set <c>all</c>) from A, then
/// also from B, then B's max-hops and prefetch change, then A is removed. A restarted link shows as a new status entry
/// and as the other A/B generation of its internal exchange upstream; an untouched link keeps both.
/// </summary>
[Collection(ThreeNodesCollection.Name)]
public sealed class DynamicReconfigurationScenarioTests(ThreeNodesFixture nodes) : IAsyncLifetime
{
    private readonly ScenarioContext context = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await context.DisposeAsync();

    [Fact]
    public async Task Only_the_changed_links_restart_and_traffic_follows_the_new_definition()
    {
        var exchange = ScenarioContext.UniqueName("fed.dyn");
        await context.DeclareExchangeAsync(nodes.C, exchange);
        context.DeleteLater(nodes.A, exchange);
        context.DeleteLater(nodes.B, exchange);
        var queue = await context.BindQueueAsync(nodes.C, exchange, "key");
        var publishA = await context.ChannelAsync(nodes.A);
        var publishB = await context.ChannelAsync(nodes.B);

        // 1. Upstream A only.
        var options = ScenarioContext.Options(nodes.C, exchange, ("a", nodes.A, null), ("b", nodes.B, null));
        var upstreamB = options.Upstreams["b"];
        options.Upstreams.Remove("b");
        var engine = await context.StartEngineAsync(options);
        var linkA = await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.A, exchange), keys => keys.SequenceEqual(["key"]), "A should hold C's binding");
        var generationA = await Management.WaitAsync(() => GenerationAsync(nodes.A, exchange), g => g.Length == 1, "A should hold one internal exchange");
        await ScenarioContext.PublishAsync(publishA, exchange, "key", "A-1");
        await queue.ExpectAsync("A-1");

        // 2. Add upstream B (max-hops 1): a new link; A's keeps running as it was.
        options = With(options, ("b", upstreamB));
        await engine.UpdateAsync(options, CancellationToken.None);
        var linkB = await WaitForUpstreamAsync(engine, "b", previous: null);
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.B, exchange), keys => keys.SequenceEqual(["key"]), "B should hold C's binding");
        Assert.Equal(linkA, Link(engine, "a"));
        Assert.Equal(generationA, await GenerationAsync(nodes.A, exchange));
        var generationB = await Management.WaitAsync(() => GenerationAsync(nodes.B, exchange), g => g.Length == 1, "B should hold one internal exchange");

        // A message that already crossed one link elsewhere is dropped by max-hops 1.
        await ScenarioContext.PublishAsync(publishB, exchange, "key", "B-hop-dropped", WithOneHop());
        await ScenarioContext.PublishAsync(publishB, exchange, "key", "B-1");
        await queue.ExpectAsync("A-1", "B-1");

        // 3. B's max-hops 2 and prefetch 7: only B's link restarts (new status entry, other generation upstream).
        upstreamB = new UpstreamDefinition { Uris = upstreamB.Uris, ReconnectDelaySeconds = 1, MaxHops = 2, PrefetchCount = 7 };
        options = With(options, ("b", upstreamB));
        await engine.UpdateAsync(options, CancellationToken.None);
        linkB = await WaitForUpstreamAsync(engine, "b", previous: linkB);
        generationB = await Management.WaitAsync(() => GenerationAsync(nodes.B, exchange), g => g.Length == 1 && g != generationB, "B's internal exchange should swap generation");
        Assert.Equal(linkA, Link(engine, "a"));
        Assert.Equal(generationA, await GenerationAsync(nodes.A, exchange));
        await Management.WaitAsync(() => PrefetchOfFederationConsumerAsync(nodes.B, exchange), p => p == "7", "B's upstream queue consumer should use prefetch 7");

        await ScenarioContext.PublishAsync(publishB, exchange, "key", "B-hop-forwarded", WithOneHop());
        await queue.ExpectAsync("A-1", "B-1", "B-hop-forwarded");
        var forwarded = queue.Received.Single(r => r.Body == "B-hop-forwarded");
        Assert.Equal([nodes.B.ClusterName, "elsewhere"], Trail.Read(forwarded.Properties).Select(e => e.Text("cluster-name")));

        // 4. Remove A: its link stops and cleans up upstream; B's is untouched.
        options = Without(options, "a");
        await engine.UpdateAsync(options, CancellationToken.None);
        await Poll.UntilAsync(() => Task.FromResult(engine.GetLinks().Any(l => l.Upstream == "a") ? null : engine), "A's link should be gone");
        await Management.WaitAsync(() => Management.NamesAsync(nodes.A, "queues"), names => !names.Any(n => n.StartsWith(Prefix(exchange), StringComparison.Ordinal)), "A's upstream queue should be deleted");
        // The same run of B's link: its drop counts (carried over from the link it replaced) are a fresh snapshot per read.
        Assert.Equal(linkB with { DroppedMessages = null }, Link(engine, "b")! with { DroppedMessages = null });
        Assert.Equal(linkB.DroppedMessages, Link(engine, "b")!.DroppedMessages);
        Assert.Equal(generationB, await GenerationAsync(nodes.B, exchange));
        await ScenarioContext.PublishAsync(publishA, exchange, "key", "A-after-removal");
        await ScenarioContext.PublishAsync(publishB, exchange, "key", "B-2");
        await queue.ExpectAsync("A-1", "B-1", "B-hop-forwarded", "B-2");
    }

    private string Prefix(string exchange) => $"federation: {exchange} -> {nodes.C.ClusterName}";

    private static LinkStatus? Link(FederationEngine engine, string upstream) => engine.GetLinks().SingleOrDefault(l => l.Upstream == upstream);

    /// <summary>Waits for the upstream's link to run as a new status entry (not <paramref name="previous"/>).</summary>
    private static Task<LinkStatus> WaitForUpstreamAsync(FederationEngine engine, string upstream, LinkStatus? previous) =>
        Poll.UntilAsync(
            () => Task.FromResult(Link(engine, upstream) is { State: LinkState.Running } link && link != previous ? link : null),
            $"the link from {upstream} should (re)start; links: {string.Join("; ", engine.GetLinks().Select(l => $"{l.Upstream} {l.State} {l.Error}"))}",
            TimeSpan.FromSeconds(60));

    /// <summary>The A/B suffix of C's internal exchange on the upstream (exactly one exists once a link has set up).</summary>
    private async Task<string> GenerationAsync(RabbitMqNode upstream, string exchange)
    {
        var prefix = Prefix(exchange) + " ";
        var internals = (await Management.NamesAsync(upstream, "exchanges")).Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.Length == prefix.Length + 1).ToList(); // A or B, not the sentinel
        return internals.Count == 1 ? internals[0][prefix.Length..] : $"{internals.Count} internal exchanges";
    }

    private async Task<string> PrefetchOfFederationConsumerAsync(RabbitMqNode upstream, string exchange)
    {
        var result = await upstream.CtlAsync(CancellationToken.None, "list_consumers", "--no-table-headers", "--quiet", "queue_name", "prefetch_count");
        var line = result.Output.Split('\n').SingleOrDefault(l => l.StartsWith(Prefix(exchange), StringComparison.Ordinal));
        return line?.Split('\t').Last().Trim() ?? "no consumer";
    }

    /// <summary>Headers of a message that already crossed one federation link, from a cluster outside this test.</summary>
    private static BasicProperties WithOneHop() => new()
    {
        Headers = new Dictionary<string, object?>
        {
            ["x-received-from"] = new List<object?>
            {
                new Dictionary<string, object?>
                {
                    ["uri"] = "amqp://elsewhere", ["exchange"] = "x", ["redelivered"] = false, ["cluster-name"] = "elsewhere", ["vhost"] = "/",
                },
            },
        },
    };

    private static FederationOptions With(FederationOptions options, (string Name, UpstreamDefinition Upstream) upstream)
    {
        var copy = Copy(options);
        copy.Upstreams[upstream.Name] = upstream.Upstream;
        return copy;
    }

    private static FederationOptions Without(FederationOptions options, string upstream)
    {
        var copy = Copy(options);
        copy.Upstreams.Remove(upstream);
        return copy;
    }

    private static FederationOptions Copy(FederationOptions options)
    {
        var copy = new FederationOptions { Downstream = { Uri = options.Downstream.Uri } };
        foreach (var (name, upstream) in options.Upstreams)
        {
            copy.Upstreams[name] = upstream;
        }

        foreach (var (name, policy) in options.Policies)
        {
            copy.Policies[name] = policy;
        }

        return copy;
    }
}
