using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// A broker instance that stops in the middle of a publish loses that message (at-most-once, as in Choria), and counts it
/// as <c>stopped</c>: before, a publish cut short by the stop was counted nowhere.
/// </summary>
public sealed class StoppedMidPublishTests
{
    [Fact]
    public async Task A_publish_cut_short_by_the_stop_is_counted_as_stopped_not_as_a_failed_publish()
    {
        const string Cluster = "stopped-mid-publish";
        using var metrics = new BrokerMetricsRecorder(Cluster);
        using var harness = new RelayHarness(cluster: Cluster);
        using var stopping = new CancellationTokenSource();
        harness.Collective.ServerRefusal = _ =>
        {
            // The instance's stop comes while this publish is on its way.
            stopping.Cancel();
            return new OperationCanceledException(stopping.Token);
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await harness.Relay.RelayRequestAsync(
            new SubjectMessage(harness.Subjects.Federation, "x"u8.ToArray(),
                [new(FederationHeaders.RequestId, "r1"), new(FederationHeaders.ReplyTo, "client.reply.r1"), new(FederationHeaders.Target, "mcollective.node.web1")]),
            harness.Federation,
            harness.Collective,
            stopping.Token));

        Assert.Equal(1, metrics.Sum("federation.broker.errors", ("error.type", BrokerErrorTypes.Stopped), ("federation.broker.direction", "request")));
        Assert.Equal(0, metrics.Sum("federation.broker.errors", ("error.type", BrokerErrorTypes.PublishFailed)));
    }
}
