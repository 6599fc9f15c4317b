using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Two hosts meant to be one federation, one with a typo in its cluster name: they are two federations to each other
/// (other link ids, leases and upstream queues), so both run every link and every message arrives twice. Nothing said so
/// before; now each instance tells the instances of other federations on the same downstream which links it runs (a
/// beacon on <c>federation.presence.all.clusters</c>), and a link that another federation also runs warns (event 1211),
/// lists the other in <see cref="LinkStatus.AlsoFederatedBy"/> and degrades health, until the other stops (event 1212).
/// </summary>
public sealed class OtherFederationTests : IAsyncLifetime
{
    private const int OtherFederationCarriesLinks = 1211;
    private const int OtherFederationNoLongerCarriesLinks = 1212;

    private readonly Testbed _bed = new();
    private readonly FakeTimeProvider _time = new();
    private readonly ConsumerCensus _census = new();
    private readonly Dictionary<string, (FederationEngine Engine, CapturingLoggerProvider Logs)> _engines = new(StringComparer.Ordinal);

    public async Task InitializeAsync()
    {
        _bed.Broker("D");
        _bed.Broker("U");
        _bed.Broker("U2");
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed");
        await Testbed.DeclareExchangeAsync(app, "other");
    }

    public async Task DisposeAsync()
    {
        foreach (var (engine, logs) in _engines.Values)
        {
            await engine.DisposeAsync();
            logs.Dispose();
        }

        await _bed.DisposeAsync();
    }

    [Fact]
    public async Task A_host_with_another_cluster_name_that_runs_the_same_link_is_reported_on_both_until_it_stops()
    {
        await StartAsync("host-a", cluster: "eu-west");
        await StartAsync("host-b", cluster: "eu-wset");

        // Both run the link, each from an upstream queue of its own: two copies of every message.
        await AdvanceUntilAsync(
            () => _engines.Keys.All(i => Link(i) is { State: LinkState.Running, AlsoFederatedBy: [_] }),
            TimeSpan.FromSeconds(30));
        Assert.Equal(1, _census.OpenOn(UpstreamNaming.QueueName("upstream", "eu-west", "/", "fed", "/")));
        Assert.Equal(1, _census.OpenOn(UpstreamNaming.QueueName("upstream", "eu-wset", "/", "fed", "/")));

        foreach (var (instance, cluster, other, otherCluster) in new[] { ("host-a", "eu-west", "host-b", "eu-wset"), ("host-b", "eu-wset", "host-a", "eu-west") })
        {
            Assert.Equal([$"instance '{other}' of federation '{otherCluster}'"], Link(instance)!.AlsoFederatedBy);
            var warning = _engines[instance].Logs.WithId(OtherFederationCarriesLinks)[0];
            Assert.Equal(LogLevel.Warning, warning.Level);
            Assert.Contains($"Instance '{instance}' of federation '{cluster}' and instance '{other}' of another federation, '{otherCluster}'", warning.Message, StringComparison.Ordinal);
            Assert.Contains("1 link(s)", warning.Message, StringComparison.Ordinal);
            Assert.Contains("fed <- u", warning.Message, StringComparison.Ordinal);
            Assert.Contains("arrives twice", warning.Message, StringComparison.Ordinal);

            var health = await HealthOf(instance);
            Assert.Equal(HealthStatus.Degraded, health.Status);
            Assert.Contains($"1 of 1 link(s) also run by another federation on this downstream", health.Description, StringComparison.Ordinal);
            Assert.Contains($"fed <- u: also instance '{other}' of federation '{otherCluster}'", health.Description, StringComparison.Ordinal);
        }

        // Said once per run of the other, not at every heartbeat: a warning again only after the overlap was cleared (a
        // loaded machine can let the fake clock run past the presence timeout between two beacons, which is such a gap).
        var steady = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - steady >= TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(15));
        Assert.All(_engines.Values, e => Assert.Equal(e.Logs.WithId(OtherFederationNoLongerCarriesLinks).Count + 1, e.Logs.WithId(OtherFederationCarriesLinks).Count));

        // The host with the typo stops: the other clears within the presence timeout and is healthy again.
        await _engines["host-b"].Engine.StopAsync(CancellationToken.None);
        await AdvanceUntilAsync(() => Link("host-a") is { AlsoFederatedBy: null }, TimeSpan.FromSeconds(10));
        var a = _engines["host-a"].Logs;
        Assert.Equal(a.WithId(OtherFederationCarriesLinks).Count, a.WithId(OtherFederationNoLongerCarriesLinks).Count);
        var cleared = a.WithId(OtherFederationNoLongerCarriesLinks)[^1];
        Assert.Contains("instance 'host-b' of federation 'eu-wset'", cleared.Message, StringComparison.Ordinal);

        // The message must not blame the other: the overlap also ends when this instance's own link stops or moves, or its
        // own cluster name is fixed by a reload, while the other still runs the link (seen with FederationHost processes).
        Assert.Contains("and this instance no longer both run", cleared.Message, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Healthy, (await HealthOf("host-a")).Status);
    }

    [Fact]
    public async Task A_reload_that_fixes_the_cluster_name_clears_the_warning_under_the_name_this_instance_has_now()
    {
        await StartAsync("host-a", cluster: "eu-west");
        await StartAsync("host-b", cluster: "eu-wset");
        await AdvanceUntilAsync(() => _engines.Keys.All(i => Link(i) is { AlsoFederatedBy: [_] }), TimeSpan.FromSeconds(30));

        // host-b's typo fixed by a reload: one federation now, whose link one of the two runs.
        await _engines["host-b"].Engine.UpdateAsync(Options("host-b", "eu-west"), CancellationToken.None);
        var b = _engines["host-b"].Logs;
        await AdvanceUntilAsync(
            () => b.WithId(OtherFederationNoLongerCarriesLinks).Count > 0 && _engines.Keys.All(i => Link(i) is { AlsoFederatedBy: null }),
            TimeSpan.FromSeconds(30));

        // Until now it said "Instance 'host-b' of federation 'eu-wset'", the name the reload had just dropped.
        var cleared = Assert.Single(b.WithId(OtherFederationNoLongerCarriesLinks));
        Assert.Contains("Instance 'host-b' of federation 'eu-west':", cleared.Message, StringComparison.Ordinal);
        Assert.Contains("instance 'host-a' of federation 'eu-west' and this instance", cleared.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("eu-wset", cleared.Message, StringComparison.Ordinal);

        // And host-a, which it heard as another federation until the reload, is not taken for one again meanwhile.
        var fixedAt = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - fixedAt >= TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(15));
        Assert.Single(b.WithId(OtherFederationCarriesLinks));
        Assert.Single(b.WithId(OtherFederationNoLongerCarriesLinks));
        Assert.All(_engines.Keys, i => Assert.Null(Link(i)?.AlsoFederatedBy));
    }

    [Theory]
    [InlineData("other", "U", "upstream")] // another downstream exchange
    [InlineData("fed", "U2", "upstream")] // another upstream broker
    [InlineData("fed", "U", "elsewhere")] // another upstream exchange
    public async Task Federations_whose_links_carry_other_messages_are_not_reported(string exchange, string upstreamBroker, string upstreamExchange)
    {
        await StartAsync("host-a", cluster: "eu-west");
        await StartAsync("host-b", cluster: "us-east", exchange, upstreamBroker, upstreamExchange);

        // Well past the first beacons and a few presence timeouts.
        await AdvanceUntilAsync(() => _engines.Keys.All(i => Link(i) is { State: LinkState.Running }), TimeSpan.FromSeconds(30));
        var started = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - started >= TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(15));

        foreach (var (instance, (engine, logs)) in _engines)
        {
            Assert.Null(Link(instance)!.AlsoFederatedBy);
            Assert.Empty(logs.WithId(OtherFederationCarriesLinks));
            Assert.Equal(HealthStatus.Healthy, (await HealthOf(instance)).Status);
        }
    }

    [Fact]
    public async Task Instances_of_one_federation_are_not_reported_as_another()
    {
        await StartAsync("host-a", cluster: "eu-west");
        await StartAsync("host-b", cluster: "eu-west");
        await AdvanceUntilAsync(() => _engines.Keys.Select(i => Link(i)?.State).Order().SequenceEqual([LinkState.Running, LinkState.Waiting]), TimeSpan.FromSeconds(30));
        var started = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - started >= TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(15));

        foreach (var (instance, (_, logs)) in _engines)
        {
            Assert.Null(Link(instance)!.AlsoFederatedBy);
            Assert.Empty(logs.WithId(OtherFederationCarriesLinks));
        }
    }

    private async Task StartAsync(string instance, string cluster, string exchange = "fed", string upstreamBroker = "U", string upstreamExchange = "upstream")
    {
        var options = Options(instance, cluster, exchange, upstreamBroker, upstreamExchange);
        var logs = new CapturingLoggerProvider();
        var engine = new FederationEngine(options, [new CrashableTransport(_bed.Transport, _census, instance)], logs.AsFactory(), timeProvider: _time);
        _engines.Add(instance, (engine, logs));
        await engine.StartAsync(CancellationToken.None);
    }

    private static FederationOptions Options(string instance, string cluster, string exchange = "fed", string upstreamBroker = "U", string upstreamExchange = "upstream") =>
        new FederationOptions { InstanceName = instance, ClusterName = cluster, Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", upstreamBroker, u => u.Exchange = upstreamExchange)
            .Policy("fed", $"^{exchange}$", upstream: "u");

    private LinkStatus? Link(string instance) => _engines[instance].Engine.GetLinks() is [var link] ? link : null;

    private Task<HealthCheckResult> HealthOf(string instance) =>
        new Federation.Core.Hosting.FederationHealthCheck(_engines[instance].Engine).CheckHealthAsync(new HealthCheckContext());

    private string Describe() => string.Join("; ", _engines.Select(e => e.Value.Engine.GetLinks() is [var l]
        ? $"{e.Key}: {l.State} holder={l.LeaseHolder} also={string.Join(",", l.AlsoFederatedBy ?? [])} {l.Waiting} {l.Error}"
        : $"{e.Key}: no link")) + $" at {_time.GetUtcNow():HH:mm:ss.fff}";

    /// <summary>Moves the fake clock in quarter seconds, letting the engines work between steps, until the condition holds.</summary>
    private async Task AdvanceUntilAsync(Func<bool> condition, TimeSpan fakeLimit)
    {
        var started = _time.GetUtcNow();
        var realDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            for (var i = 0; i < 3; i++)
            {
                await Task.Delay(Testbed.PollInterval);
                if (condition())
                {
                    return;
                }
            }

            Assert.True(_time.GetUtcNow() - started <= fakeLimit, $"Not within {fakeLimit.TotalSeconds} s (fake): {Describe()}");
            Assert.True(DateTime.UtcNow < realDeadline, $"Timed out (real time): {Describe()}");
            _time.Advance(TimeSpan.FromMilliseconds(250));
        }
    }
}
