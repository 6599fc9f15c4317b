using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Two engines with one configuration whose leases do not exclude each other (on NATS, another <c>lease-bucket</c> on one
/// downstream URI): both hold the link's lease and run it, and every message crossed twice without a word. The heartbeats
/// say which links each instance holds, so each notices the other holding its link: a warning (event 1205), the other
/// instance in <see cref="LinkStatus.AlsoHeldBy"/> and degraded health. Both used to go on running it: now the holder whose
/// name sorts after the other's stops the link and stands by (event 1209) until the other no longer holds it.
/// </summary>
public sealed class SharedLeaseTests : IAsyncLifetime
{
    private const int LeaseHeldTwice = 1205;
    private const int LeaseNoLongerHeldTwice = 1206;
    private const int LeasesElsewhere = 1207;
    private const int LinkYielded = 1209;

    private readonly Testbed _bed = new();
    private readonly FakeTimeProvider _time = new();
    private readonly ConsumerCensus _census = new();
    private readonly Dictionary<string, (FederationEngine Engine, CapturingLoggerProvider Logs)> _engines = new(StringComparer.Ordinal);

    public async Task InitializeAsync()
    {
        _bed.Broker("D");
        _bed.Broker("U");
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed");
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
    public async Task Two_holders_of_one_link_warn_and_the_one_whose_name_sorts_after_yields_until_the_other_stops()
    {
        await StartAsync("host-a", leasePlace: "bucket-1");
        await StartAsync("host-b", leasePlace: "bucket-2");
        var queue = Federation.Core.Links.UpstreamNaming.QueueName("upstream", "D", "/", "fed", "/");

        // Both take their own lease and run the link; once their heartbeats have shown it for longer than the presence
        // timeout, host-b (after host-a by name) stops it and stands by, and host-a runs it alone.
        await AdvanceUntilAsync(
            () => State("host-a") == LinkState.Running && State("host-b") == LinkState.Waiting && AlsoHeldBy("host-a") is null && _census.OpenOn(queue) == 1,
            TimeSpan.FromSeconds(30));

        foreach (var (instance, other, here, there) in new[] { ("host-a", "host-b", "bucket-1", "bucket-2"), ("host-b", "host-a", "bucket-2", "bucket-1") })
        {
            // The heartbeats say where each keeps its leases: told apart at once, before any link is held twice.
            var elsewhere = Assert.Single(_engines[instance].Logs.WithId(LeasesElsewhere));
            Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, elsewhere.Level);
            Assert.Contains($"'{instance}' of federation 'D' keeps its link leases in {here}, but instance '{other}' keeps its own in {there}", elsewhere.Message, StringComparison.Ordinal);
            Assert.Contains("lease-bucket", elsewhere.Message, StringComparison.Ordinal);

            var warning = Assert.Single(_engines[instance].Logs.WithId(LeaseHeldTwice));
            Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, warning.Level);
            Assert.Contains(_engines[instance].Engine.GetLinks()[0].Id, warning.Message, StringComparison.Ordinal);
            Assert.Contains($"'{other}'", warning.Message, StringComparison.Ordinal);
            Assert.Contains("lease-bucket", warning.Message, StringComparison.Ordinal);
        }

        var kept = _engines["host-a"].Engine.GetLinks()[0];
        Assert.Equal("host-a", kept.LeaseHolder);
        Assert.Empty(_engines["host-a"].Logs.WithId(LinkYielded));
        Assert.Equal(HealthStatus.Healthy, (await HealthOf("host-a")).Status);

        var yielded = _engines["host-b"].Engine.GetLinks()[0];
        Assert.Equal("host-a", yielded.RunningOn);
        Assert.Contains("yields to 'host-a'", yielded.Waiting, StringComparison.Ordinal);
        Assert.Null(yielded.AlsoHeldBy);
        var yieldLog = Assert.Single(_engines["host-b"].Logs.WithId(LinkYielded));
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, yieldLog.Level);
        Assert.Contains("'host-a'", yieldLog.Message, StringComparison.Ordinal);
        Assert.Empty(_engines["host-b"].Logs.WithId(LeaseNoLongerHeldTwice));

        // It stays so: host-b does not take its own lease again while host-a holds the link (well past a fallback, 15 s).
        var steady = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - steady >= TimeSpan.FromSeconds(40), TimeSpan.FromSeconds(45), () =>
        {
            Assert.True(State("host-a") == LinkState.Running && State("host-b") == LinkState.Waiting && _census.OpenOn(queue) <= 1, Describe());
        });
        Assert.Single(_engines["host-b"].Logs.WithId(LinkYielded));

        // host-a stops: host-b takes the link over from the same queue.
        var (a, _) = _engines["host-a"];
        await a.StopAsync(CancellationToken.None);
        await AdvanceUntilAsync(() => State("host-b") == LinkState.Running, TimeSpan.FromSeconds(10));
        Assert.Equal("host-b", _engines["host-b"].Engine.GetLinks()[0].LeaseHolder);
        Assert.Equal(HealthStatus.Healthy, (await HealthOf("host-b")).Status);
    }

    [Fact]
    public async Task Instances_that_share_their_leases_never_see_a_second_holder()
    {
        await StartAsync("host-a", leasePlace: null);
        await StartAsync("host-b", leasePlace: null);

        // Well past a fallback (15 s), settling and a few presence timeouts.
        var started = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - started >= TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(40));

        var states = _engines.Values.Select(e => e.Engine.GetLinks()[0].State).Order().ToList();
        Assert.Equal([LinkState.Running, LinkState.Waiting], states);
        foreach (var (instance, (engine, logs)) in _engines)
        {
            Assert.Null(engine.GetLinks()[0].AlsoHeldBy);
            Assert.Empty(logs.WithId(LeaseHeldTwice));
            Assert.Empty(logs.WithId(LeasesElsewhere));
            Assert.Equal(HealthStatus.Healthy, (await HealthOf(instance)).Status);
        }
    }

    [Fact]
    public async Task The_lease_place_warning_of_a_run_that_left_is_not_kept()
    {
        // One entry per run of the other instance used to stay for this instance's life: every restart added one.
        await StartAsync("host-a", leasePlace: "bucket-1");
        var a = _engines["host-a"];
        for (var run = 1; run <= 3; run++)
        {
            var other = $"host-b{run}";
            await StartAsync(other, leasePlace: "bucket-2");
            await AdvanceUntilAsync(() => a.Logs.WithId(LeasesElsewhere).Count == run, TimeSpan.FromSeconds(30));
            Assert.Equal(1, a.Engine.LeaseWarningsKept);

            // A clean stop says "leaving": the run is gone, and so is what host-a kept about it.
            await _engines[other].Engine.StopAsync(CancellationToken.None);
            await AdvanceUntilAsync(() => a.Engine.LeaseWarningsKept == 0, TimeSpan.FromSeconds(30));
        }
    }

    private async Task StartAsync(string instance, string? leasePlace)
    {
        var options = new FederationOptions { InstanceName = instance, Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U", u => u.Exchange = "upstream")
            .Policy("fed", "^fed$", upstream: "u");
        var logs = new CapturingLoggerProvider();
        var counted = new CrashableTransport(_bed.Transport, _census, instance);
        Federation.Core.Transport.ITransport transport = leasePlace is null ? counted : new RelocatedLeaseTransport(counted, leasePlace);
        var engine = new FederationEngine(options, [transport], logs.AsFactory(), timeProvider: _time);
        _engines.Add(instance, (engine, logs));
        await engine.StartAsync(CancellationToken.None);
    }

    private LinkState? State(string instance) => _engines[instance].Engine.GetLinks() is [var link] ? link.State : null;

    private string? AlsoHeldBy(string instance) =>
        _engines[instance].Engine.GetLinks() is [{ AlsoHeldBy: { } others }] ? string.Join(",", others) : null;

    private Task<HealthCheckResult> HealthOf(string instance) =>
        new Federation.Core.Hosting.FederationHealthCheck(_engines[instance].Engine).CheckHealthAsync(new HealthCheckContext());

    private string Describe() => string.Join("; ", _engines.Select(e => e.Value.Engine.GetLinks() is [var l]
        ? $"{e.Key}: {l.State} holder={l.LeaseHolder} also={string.Join(",", l.AlsoHeldBy ?? [])} {l.Waiting} {l.Error}"
        : $"{e.Key}: no link")) + $" at {_time.GetUtcNow():HH:mm:ss.fff}";

    /// <summary>Moves the fake clock in quarter seconds, letting the engines work between steps, until the condition holds.</summary>
    private async Task AdvanceUntilAsync(Func<bool> condition, TimeSpan fakeLimit, Action? check = null)
    {
        var started = _time.GetUtcNow();
        var realDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            for (var i = 0; i < 3; i++)
            {
                await Task.Delay(Testbed.PollInterval);
                check?.Invoke();
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
