using Federation.Core.Collectives;
using Federation.Core.Hosting;
using Federation.Core.InMemory.Subjects;
using Federation.Core.Tests.Support;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// An instance whose FederationUri names its collective's server federates nothing, and it joins the queue group of the
/// replies of the cluster's instances on that collective: black-box run of 7 Dec 2026, three FederationHosts serving
/// 'london' and a fourth with FederationUri = CollectiveUri: 40 of 600 replies lost, every host healthy, nothing logged.
/// Its own announcement now comes back twice on one connection, which says so. The same URI on both sides is refused by
/// validation (<see cref="SameServerValidationTests"/>); these instances reach one server under two names.
/// </summary>
public sealed class SameBusTests
{
    [Fact]
    public async Task An_instance_whose_federation_is_its_collective_is_warned_about_once_and_reported_degraded()
    {
        await using var testbed = new CollectivesTestbed();
        using var logs = new CapturingLoggerProvider();
        using var factory = logs.AsFactory();
        var time = new FakeTimeProvider();
        testbed.Registry.GetOrAdd("same-london");
        var broker = new FederationBroker(
            new FederationBrokerOptions { ClusterName = "samebus", FederationUri = "alias://same-london", CollectiveUri = "memory://same-london", InstanceName = "samebus-1" },
            [testbed.Transport, new AliasSubjectTransport(testbed.Transport)], testbed.Telemetry, factory, time);
        await using (broker)
        {
            await broker.StartAsync(CancellationToken.None);
            await CollectivesTestbed.WaitUntilAsync(() => broker.ClusterProblem is not null, "the first announcement came back twice");
            await RoundsAsync(time, testbed.Registry.GetOrAdd("same-london"), publishedPerRound: 2);

            Assert.Contains("one message bus", broker.ClusterProblem, StringComparison.Ordinal);
            var warning = Assert.Single(logs.WithId(4018));
            Assert.Equal(LogLevel.Warning, warning.Level);
            Assert.Contains("memory://same-london", warning.Message, StringComparison.Ordinal);
            var instances = new FederationBrokerInstances();
            instances.Add(broker);
            var health = await new FederationBrokerHealthCheck(instances).CheckHealthAsync(new HealthCheckContext());
            Assert.Equal(HealthStatus.Degraded, health.Status);
            Assert.Contains("samebus/samebus-1", health.Description, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_instances_on_that_collective_are_told_too()
    {
        await using var testbed = new CollectivesTestbed();
        using var logs = new CapturingLoggerProvider();
        using var factory = logs.AsFactory();
        var time = new FakeTimeProvider();
        testbed.Registry.GetOrAdd("told-fed");
        var london = testbed.Registry.GetOrAdd("told-london");
        FederationBroker Broker(string federation, string name) => new(
            new FederationBrokerOptions { ClusterName = "told", FederationUri = $"alias://{federation}", CollectiveUri = "memory://told-london", InstanceName = name },
            [testbed.Transport, new AliasSubjectTransport(testbed.Transport)], testbed.Telemetry, factory, time);
        var good = Broker("told-fed", "told-1");
        var stray = Broker("told-london", "told-stray");
        await using (good)
        await using (stray)
        {
            await good.StartAsync(CancellationToken.None);
            await stray.StartAsync(CancellationToken.None);
            for (var round = 1; round <= 6 && good.ClusterProblem is null; round++)
            {
                // Per round: the good instance announces once on the collective, the stray twice (its federation is there too).
                await CollectivesTestbed.WaitUntilAsync(() => london.MessagesPublished >= round * 3 && time.PendingTimers >= 2, $"round {round} announced");
                await CollectivesTestbed.WaitUntilAsync(() => good.RollCallCopiesHeard >= round * 2, $"round {round} heard");
                time.Advance(ClusterRollCall.Interval);
            }

            Assert.Contains("'told-stray'", good.ClusterProblem, StringComparison.Ordinal);
            Assert.Contains("not on its federation", good.ClusterProblem, StringComparison.Ordinal);
            // The stray's own view of the good instance is not what this test waits for (its rounds wait on the good one).
            var warning = Assert.Single(logs.WithId(4022), w => w.Message.Contains("instance 'told-1':", StringComparison.Ordinal));
            Assert.Contains("instance 'told-1': instance 'told-stray'", warning.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_instance_with_its_own_federation_and_collective_hears_its_announcement_once_on_each()
    {
        await using var testbed = new CollectivesTestbed();
        using var logs = new CapturingLoggerProvider();
        using var factory = logs.AsFactory();
        var time = new FakeTimeProvider();
        var federation = testbed.Registry.GetOrAdd("apart-fed");
        testbed.Registry.GetOrAdd("apart-london");
        var broker = new FederationBroker(
            new FederationBrokerOptions { ClusterName = "apart", FederationUri = "memory://apart-fed", CollectiveUri = "memory://apart-london", InstanceName = "apart-1" },
            [testbed.Transport], testbed.Telemetry, factory, time);
        await using (broker)
        {
            await broker.StartAsync(CancellationToken.None);
            await RoundsAsync(time, federation, publishedPerRound: 1);
            Assert.Null(broker.ClusterProblem);
            Assert.Empty(logs.WithId(4018));
        }
    }

    /// <summary>Four announcement rounds on the fake clock, each announced (on <paramref name="server"/>) before the next.</summary>
    private static async Task RoundsAsync(FakeTimeProvider time, InMemorySubjectServer server, int publishedPerRound)
    {
        for (var round = 1; round <= 4; round++)
        {
            await CollectivesTestbed.WaitUntilAsync(() => server.MessagesPublished >= round * publishedPerRound && time.PendingTimers > 0, $"round {round} announced");
            if (round < 4)
            {
                time.Advance(ClusterRollCall.Interval);
            }
        }
    }
}
