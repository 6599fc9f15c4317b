using Federation.Core.Hosting;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Two engines started with the same <see cref="FederationOptions.InstanceName"/> (an operator's mistake: one
/// configuration copied with its name). The leases keep each link on one of them, but placement and the roster go by
/// name, so neither saw the other, and a clean stop of one cleaned up as the last instance: it deleted the upstream queues
/// under the other, which then lost what the upstream routed until it declared them again (measured with two
/// FederationHost processes: 326 of 5,000 messages). Now the runs tell each other apart by incarnation: the one that
/// started first runs the links, the later one stands aside (no link, event 1215 once, health degraded, every link
/// waiting with the reason), a stop of either keeps the queues for the other, and the one aside takes over when the
/// first stops.
/// </summary>
public sealed class DuplicateInstanceNameTests : IAsyncLifetime
{
    private const int NamesakeHeard = 1210;
    private const int NamesakeStandingAside = 1215;
    private const int NamesakeResumed = 1216;
    private const int LinkStoppedForOthers = 2019;
    private const int Links = 3;

    private readonly Testbed _bed = new();
    private readonly FakeTimeProvider _time = new();
    private readonly List<(FederationEngine Engine, CapturingLoggerProvider Logs)> _engines = [];

    public async Task InitializeAsync()
    {
        _bed.Broker("D");
        _bed.Broker("U");
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed");
        for (var i = 0; i < Links; i++)
        {
            await Testbed.DeclareExchangeAsync(app, $"many.{i}");
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var (engine, logs) in _engines)
        {
            await engine.DisposeAsync();
            logs.Dispose();
        }

        await _bed.DisposeAsync();
    }

    [Fact]
    public async Task Two_instances_with_one_name_each_say_so_once_naming_it_and_the_link_runs_once()
    {
        var (first, firstLogs) = await StartAsync("host-a");
        var (second, secondLogs) = await StartAsync("host-a");

        // One warns that a namesake stands aside (1210), the other that it stands aside (1215): whichever the rule picks.
        await AdvanceUntilAsync(() => firstLogs.WithId(NamesakeHeard).Count + secondLogs.WithId(NamesakeHeard).Count == 1 && firstLogs.WithId(NamesakeStandingAside).Count + secondLogs.WithId(NamesakeStandingAside).Count == 1, TimeSpan.FromSeconds(10));
        foreach (var logs in new[] { firstLogs, secondLogs })
        {
            var said = Assert.Single(logs.Entries, e => e.EventId.Id is NamesakeHeard or NamesakeStandingAside).Message;
            Assert.Contains("InstanceName 'host-a'", said, StringComparison.Ordinal);
            Assert.Contains("Federation:InstanceName", said, StringComparison.Ordinal);
        }

        // Many heartbeats later: still once each, and the link runs on exactly one of them.
        var started = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - started >= TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(30));
        Assert.Equal(1, firstLogs.WithId(NamesakeHeard).Count + secondLogs.WithId(NamesakeHeard).Count);
        Assert.Equal(1, firstLogs.WithId(NamesakeStandingAside).Count + secondLogs.WithId(NamesakeStandingAside).Count);
        Assert.Equal([LinkState.Running, LinkState.Waiting], _engines.Select(e => e.Engine.GetLinks()[0].State).Order().ToList());
        Assert.Equal(1, first.NamesakesKept);
    }

    [Fact]
    public async Task Distinct_names_never_warn_and_a_namesake_that_left_is_forgotten()
    {
        var (a, aLogs) = await StartAsync("host-a");
        var (_, bLogs) = await StartAsync("host-b");
        var started = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - started >= TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(20));
        Assert.Empty(aLogs.WithId(NamesakeHeard));
        Assert.Empty(bLogs.WithId(NamesakeHeard));

        // A namesake comes and stops cleanly ("leaving"): host-a forgets it, and a second one is a new warning.
        for (var run = 1; run <= 2; run++)
        {
            var (namesake, _) = await StartAsync("host-a");
            await AdvanceUntilAsync(() => aLogs.WithId(NamesakeHeard).Count == run, TimeSpan.FromSeconds(10));
            await namesake.StopAsync(CancellationToken.None);
            await AdvanceUntilAsync(() => a.NamesakesKept == 0, TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public async Task Of_two_instances_with_one_name_the_first_runs_every_link_and_the_later_stands_aside_saying_so_once()
    {
        var (first, firstLogs) = await StartAsync("host-a", "^many\\.");
        await AdvanceUntilAsync(() => Running(first) == Links, TimeSpan.FromSeconds(10));
        _time.Advance(TimeSpan.FromSeconds(1));
        var (second, secondLogs) = await StartAsync("host-a", "^many\\.");

        await AdvanceUntilAsync(() => secondLogs.WithId(NamesakeStandingAside).Count == 1 && firstLogs.WithId(NamesakeHeard).Count == 1, TimeSpan.FromSeconds(10));
        var error = Assert.Single(secondLogs.WithId(NamesakeStandingAside));
        Assert.Contains("Federation:InstanceName 'host-a'", error.Message, StringComparison.Ordinal);
        Assert.Contains(first.Ownership!.Incarnation, error.Message, StringComparison.Ordinal);

        // Many heartbeats later: the first still runs every link, the second none, each said so once, and both report it.
        var since = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - since >= TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(30));
        Assert.Equal(Links, Running(first));
        Assert.All(second.GetLinks(), l =>
        {
            Assert.Equal(LinkState.Waiting, l.State);
            Assert.Contains("Federation:InstanceName 'host-a'", l.Waiting, StringComparison.Ordinal);
            Assert.Contains("stands aside", l.Waiting, StringComparison.Ordinal);
        });
        Assert.Single(secondLogs.WithId(NamesakeStandingAside));
        Assert.Single(firstLogs.WithId(NamesakeHeard));
        Assert.Empty(secondLogs.WithId(NamesakeHeard));
        Assert.Empty(firstLogs.WithId(NamesakeStandingAside));
        foreach (var engine in new[] { first, second })
        {
            var health = await new FederationHealthCheck(engine).CheckHealthAsync(new HealthCheckContext());
            Assert.Equal(HealthStatus.Degraded, health.Status);
            Assert.Contains("Federation:InstanceName 'host-a'", health.Description, StringComparison.Ordinal);

            // The run aside still hears its own heartbeats come back: its downstream is fine, and health must not say it
            // may be frozen (black-box run: a FederationHost standing aside reported "has not heard its own heartbeat ...
            // for 19 s", since its heartbeats, marked as standing aside, were not taken for its own).
            Assert.Null(engine.OwnHeartbeatsUnheard);
            Assert.DoesNotContain("own heartbeat", health.Description, StringComparison.Ordinal);
        }

        Assert.Contains("stands aside and runs no link", second.InstanceConflict, StringComparison.Ordinal);
        Assert.Contains("started first and runs the links", first.InstanceConflict, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_instances_with_one_name_started_together_agree_that_exactly_one_runs_the_links()
    {
        var (a, _) = await StartAsync("host-a", "^many\\.");
        var (b, _) = await StartAsync("host-a", "^many\\.");
        await AdvanceUntilAsync(() => (a.Ownership!.StandingAsideFor is null) != (b.Ownership!.StandingAsideFor is null), TimeSpan.FromSeconds(10));
        var (acting, aside) = a.Ownership!.StandingAsideFor is null ? (a, b) : (b, a);
        Assert.Equal(acting.Ownership!.Incarnation, aside.Ownership!.StandingAsideFor);

        // Both asked for the leases at once, so the one aside may have taken some: it lets them go, and the other takes them.
        await AdvanceUntilAsync(() => Running(acting) == Links && Running(aside) == 0, TimeSpan.FromSeconds(30));
        var since = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - since >= TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(20));
        Assert.Equal((Links, 0), (Running(acting), Running(aside)));
        Assert.Null(acting.Ownership.StandingAsideFor);
    }

    [Fact]
    public async Task A_clean_stop_of_the_instance_that_runs_the_links_keeps_the_queues_for_its_namesake_which_takes_over_losing_nothing()
    {
        var (first, firstLogs) = await StartAsync("host-a");
        await AdvanceUntilAsync(() => Running(first) == 1, TimeSpan.FromSeconds(10));
        _time.Advance(TimeSpan.FromSeconds(1));
        var (second, secondLogs) = await StartAsync("host-a");
        await AdvanceUntilAsync(() => second.GetLinks() is [{ State: LinkState.Waiting }] && second.Ownership!.StandingAsideFor is not null && first.NamesakesKept == 1, TimeSpan.FromSeconds(10));
        var upstreamQueue = UpstreamNaming.QueueName("upstream", "D", "/", "fed", "/");
        Assert.True(_bed.Broker("U").QueueExists("/", upstreamQueue));

        var downstream = await _bed.BindQueueAsync("D", "fed", "#");
        await _bed.WaitForBindingsAsync("U", "upstream", "#", 1);
        var upstream = await _bed.ConnectAsync("U");
        await Testbed.PublishAsync(upstream, "upstream", "k", "before the stop");
        await AdvanceUntilAsync(() => downstream.Bodies.Count == 1, TimeSpan.FromSeconds(10));

        await first.StopAsync(CancellationToken.None);

        // The queue stays for the other run (event 2019; before: deleted, as by the last instance, with what it buffered),
        // so what the upstream routes meanwhile waits in it.
        var kept = Assert.Single(firstLogs.WithId(LinkStoppedForOthers)).Message;
        Assert.Contains("kept for instance(s) host-a", kept, StringComparison.Ordinal);
        Assert.True(_bed.Broker("U").QueueExists("/", upstreamQueue), "the stop deleted the upstream queue that the other instance of the name takes over");
        await Testbed.PublishAsync(upstream, "upstream", "k", "while nobody runs the link");
        await AdvanceUntilAsync(() => Running(second) == 1 && downstream.Bodies.Count == 2, TimeSpan.FromSeconds(10));
        Assert.Equal(["before the stop", "while nobody runs the link"], downstream.Bodies);
        Assert.Single(secondLogs.WithId(NamesakeResumed));
        Assert.Null(second.InstanceConflict);
    }

    [Fact]
    public async Task Another_instance_keeps_the_first_run_of_a_name_and_is_not_moved_by_the_one_that_stands_aside()
    {
        var (first, _) = await StartAsync("host-a", "^many\\.");
        var (other, otherLogs) = await StartAsync("host-b", "^many\\.");
        await AdvanceUntilAsync(() => Running(first) + Running(other) == Links, TimeSpan.FromSeconds(10));
        _time.Advance(TimeSpan.FromSeconds(1));
        var (second, _) = await StartAsync("host-a", "^many\\.");
        await AdvanceUntilAsync(() => second.Ownership!.StandingAsideFor is not null, TimeSpan.FromSeconds(10));
        var since = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - since >= TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(20));
        var liveChanges = otherLogs.WithId(1201).Count;

        // The one aside stops: host-b does not drop host-a, which still runs (before: it did, for about a second).
        await second.StopAsync(CancellationToken.None);
        since = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - since >= TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10));
        Assert.Equal(liveChanges, otherLogs.WithId(1201).Count);
        Assert.Equal(["host-a", "host-b"], other.Ownership!.LiveInstances);
        Assert.Equal(Links, Running(first) + Running(other));
    }

    [Fact]
    public async Task A_restart_under_the_same_name_is_a_restart_not_a_namesake()
    {
        var (first, firstLogs) = await StartAsync("host-a", "^many\\.");
        var (other, _) = await StartAsync("host-b", "^many\\.");
        await AdvanceUntilAsync(() => Running(first) + Running(other) == Links, TimeSpan.FromSeconds(10));
        await first.StopAsync(CancellationToken.None);

        var (restarted, restartedLogs) = await StartAsync("host-a", "^many\\.");
        var since = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - since >= TimeSpan.FromSeconds(15) && Running(restarted) > 0 && Running(restarted) + Running(other) == Links, TimeSpan.FromSeconds(30));
        Assert.DoesNotContain(restartedLogs.Entries, e => e.EventId.Id is NamesakeHeard or NamesakeStandingAside);
        Assert.DoesNotContain(firstLogs.Entries, e => e.EventId.Id is NamesakeHeard or NamesakeStandingAside);
        Assert.Null(restarted.InstanceConflict);
        Assert.Null(other.InstanceConflict);
        Assert.Equal(["host-a", "host-b"], other.Ownership!.LiveInstances);
    }

    private static int Running(FederationEngine engine) => engine.GetLinks().Count(l => l.State == LinkState.Running);

    private async Task<(FederationEngine Engine, CapturingLoggerProvider Logs)> StartAsync(string instance, string pattern = "^fed$")
    {
        var options = new FederationOptions { InstanceName = instance, Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U", u => u.Exchange = "upstream")
            .Policy("fed", pattern, upstream: "u");
        var logs = new CapturingLoggerProvider();
        var engine = new FederationEngine(options, [_bed.Transport], logs.AsFactory(), timeProvider: _time);
        _engines.Add((engine, logs));
        await engine.StartAsync(CancellationToken.None);
        return (engine, logs);
    }

    private string Describe() => string.Join("; ", _engines.Select((e, i) => e.Engine.GetLinks() is [var l]
        ? $"#{i}: {l.State} holder={l.LeaseHolder} {l.Waiting} {l.Error}"
        : $"#{i}: no link")) + $" at {_time.GetUtcNow():HH:mm:ss.fff}";

    private Task<TimeSpan> AdvanceUntilAsync(Func<bool> condition, TimeSpan fakeLimit) => _time.AdvanceUntilAsync(condition, fakeLimit, Describe);
}
