using Federation.Core.Collectives;
using Federation.Core.Hosting;
using Federation.Core.Tests.Support;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// The instances of one broker cluster announce themselves on both of their servers. An instance whose CollectiveUri names
/// another collective's server (bbcoll: it silently took its share of requests, 129 of 500 unanswered) is heard on the
/// federation but not on the collective: both instances warn once and report degraded health until it is gone. Two
/// processes under one InstanceName are told apart by their runs and warned about too. The announcements run on a fake clock.
/// </summary>
public sealed class ClusterRollCallTests : IAsyncDisposable
{
    private readonly CollectivesTestbed _testbed = new();
    private readonly CapturingLoggerProvider _logs = new();
    private readonly FakeTimeProvider _time = new();
    private readonly ILoggerFactory _loggerFactory;
    private readonly List<FederationBroker> _brokers = [];

    // The running instances with their collectives, and how many announcement copies each must have handled by now: a
    // round ends only once both copies of every announcement were handled, so no subscription lags the fake clock.
    private readonly Dictionary<FederationBroker, string> _running = [];
    private readonly Dictionary<FederationBroker, long> _copiesExpected = [];

    public ClusterRollCallTests() => _loggerFactory = _logs.AsFactory();

    public async ValueTask DisposeAsync()
    {
        foreach (var broker in _brokers)
        {
            await broker.DisposeAsync();
        }

        await _testbed.DisposeAsync();
        _loggerFactory.Dispose();
        _logs.Dispose();
    }

    [Fact]
    public async Task An_instance_serving_another_collective_is_warned_about_once_by_both_and_health_is_degraded_until_it_stops()
    {
        var good = await StartAsync("london-1", "london");
        var stray = await StartAsync("london-2", "tokyo");
        var instances = new FederationBrokerInstances();
        instances.Add(good);
        instances.Add(stray);

        await RoundsAsync(4, expectedPerRound: 2);

        Assert.Contains("'london-2'", good.ClusterProblem, StringComparison.Ordinal);
        Assert.Contains("memory://tokyo", good.ClusterProblem, StringComparison.Ordinal);
        Assert.Contains("'london-1'", stray.ClusterProblem, StringComparison.Ordinal);
        var warnings = _logs.WithId(4012);
        Assert.Equal(2, warnings.Count); // once per instance, not once per announcement
        Assert.All(warnings, w => Assert.Equal(LogLevel.Warning, w.Level));
        Assert.Contains(warnings, w => w.Message.Contains("instance 'london-1' (collective memory://london) and instance 'london-2' of the same cluster (collective memory://tokyo", StringComparison.Ordinal));
        var health = await new FederationBrokerHealthCheck(instances).CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Contains("london/london-1", health.Description, StringComparison.Ordinal);

        await StopAsync(stray);
        await RoundsAsync(4, expectedPerRound: 1);

        Assert.Null(good.ClusterProblem);
        Assert.Single(_logs.WithId(4013), e => e.Message.Contains("'london-1'", StringComparison.Ordinal));
        Assert.Equal(2, _logs.WithId(4012).Count);
    }

    [Fact]
    public async Task Instances_of_one_collective_find_nothing_wrong()
    {
        var first = await StartAsync("london-1", "london");
        var second = await StartAsync("london-2", "london");

        await RoundsAsync(4, expectedPerRound: 2);

        Assert.Null(first.ClusterProblem);
        Assert.Null(second.ClusterProblem);
        Assert.DoesNotContain(_logs.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task Two_runs_under_one_instance_name_are_warned_about()
    {
        var first = await StartAsync("london-1", "london");
        var second = await StartAsync("london-1", "london");

        await RoundsAsync(1, expectedPerRound: 2);

        Assert.Equal(2, _logs.WithId(4014).Count);
        Assert.Contains("uses this instance's name 'london-1'", first.ClusterProblem, StringComparison.Ordinal);
        Assert.NotNull(second.ClusterProblem);
        Assert.Empty(_logs.WithId(4012));
    }

    private async Task<FederationBroker> StartAsync(string instance, string collective)
    {
        _testbed.Registry.GetOrAdd("fed");
        _testbed.Registry.GetOrAdd(collective);
        var broker = new FederationBroker(
            new FederationBrokerOptions { ClusterName = "london", FederationUri = "memory://fed", CollectiveUri = $"memory://{collective}", InstanceName = instance },
            [_testbed.Transport], _testbed.Telemetry, _loggerFactory, _time);
        _brokers.Add(broker);
        var federation = _testbed.Registry.GetOrAdd("fed");
        var before = federation.MessagesPublished;
        await broker.StartAsync(CancellationToken.None);

        // Its first announcement goes out at start: once it is on the federation, the instances running before this one
        // hear it and this one hears none of theirs.
        await CollectivesTestbed.WaitUntilAsync(() => federation.MessagesPublished > before, "the first announcement was published");
        ExpectCopiesOf(broker, collective);
        _running[broker] = collective;
        _copiesExpected[broker] = 0;
        await WaitUntilCopiesHeardAsync();
        return broker;
    }

    private async Task StopAsync(FederationBroker broker)
    {
        await broker.StopAsync(CancellationToken.None);
        _running.Remove(broker);
        _copiesExpected.Remove(broker);
    }

    /// <summary>Every other running instance hears an announcement of <paramref name="announcer"/> on the federation, and on its collective if it is the same.</summary>
    private void ExpectCopiesOf(FederationBroker announcer, string collective)
    {
        foreach (var (listener, listenerCollective) in _running)
        {
            if (!ReferenceEquals(listener, announcer))
            {
                _copiesExpected[listener] += collective == listenerCollective ? 2 : 1;
            }
        }
    }

    private Task WaitUntilCopiesHeardAsync() =>
        CollectivesTestbed.WaitUntilAsync(
            () => _copiesExpected.All(e => e.Key.RollCallCopiesHeard >= e.Value),
            "every instance handled both copies of every announcement it can hear");

    /// <summary>
    /// Lets every running instance announce itself <paramref name="rounds"/> more times: each round waits until the round's
    /// announcements are on the federation and both copies of each were handled by every instance that can hear them, then
    /// moves the clock one interval.
    /// </summary>
    private async Task RoundsAsync(int rounds, int expectedPerRound)
    {
        var federation = _testbed.Registry.GetOrAdd("fed");
        for (var round = 0; round < rounds; round++)
        {
            var before = federation.MessagesPublished;
            await CollectivesTestbed.WaitUntilAsync(() => _time.PendingTimers >= expectedPerRound, "every instance waits for its next announcement");
            _time.Advance(ClusterRollCall.Interval);
            await CollectivesTestbed.WaitUntilAsync(() => federation.MessagesPublished >= before + expectedPerRound, "the round's announcements were published");
            foreach (var (announcer, collective) in _running)
            {
                ExpectCopiesOf(announcer, collective);
            }

            await WaitUntilCopiesHeardAsync();
        }

        await CollectivesTestbed.WaitUntilAsync(() => _time.PendingTimers >= expectedPerRound, "the last announcements were handled");
    }
}
