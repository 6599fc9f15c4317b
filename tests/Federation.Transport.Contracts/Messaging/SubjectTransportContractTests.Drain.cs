using System.Collections.Concurrent;
using System.Text;
using Xunit;

namespace Federation.Transport.Contracts.Messaging;

public abstract partial class SubjectTransportContractTests
{
    /// <summary>
    /// Whether <see cref="Core.Transport.Messaging.ISubjectSubscription.DrainAsync"/> hands the subscription's own handler
    /// the messages the transport holds for it. A transport that does not (AMQP, whose held deliveries are unacknowledged)
    /// must leave them to the group's other members instead.
    /// </summary>
    protected virtual bool DrainsHeldMessages => true;

    [Fact]
    public async Task Drain_StopsNewMessages_AndNoMessageAlreadyReceivedIsLost()
    {
        var subject = UniqueSubject("drain");
        var markerSubject = UniqueSubject("drain-marker");
        var subscriber = await OpenAsync();
        var publisher = await OpenAsync();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = new ConcurrentQueue<string>();
        var subscription = await subscriber.SubscribeAsync(subject, "drainers", async (message, _) =>
        {
            first.TrySetResult();
            await release.Task;
            handled.Enqueue(Encoding.UTF8.GetString(message.Body.Span));
        }, Ct);
        var markers = await SubjectRecorder.StartAsync(subscriber, markerSubject, null, Ct);
        string[] held = ["m1", "m2", "m3", "m4", "m5"];

        // The handler holds the first message; the marker, published after the rest, shows that the others reached the
        // subscriber's connection too (in order, on one connection).
        foreach (var body in held)
        {
            await PublishAsync(publisher, subject, body);
        }

        await first.Task.WaitAsync(Patience, Ct);
        await PublishAsync(publisher, markerSubject, Marker);
        await Eventually.TrueAsync(() => markers.Count == 1, Patience, "the marker should arrive");
        var other = await OpenAsync();
        var others = await SubjectRecorder.StartAsync(other, subject, "drainers", Ct);

        var draining = subscription.DrainAsync(Ct).AsTask();
        await subscriber.FlushAsync(Ct);
        await PublishAsync(publisher, subject, "after");
        release.TrySetResult();
        await draining.WaitAsync(Patience, Ct);

        await Eventually.TrueAsync(() => handled.Concat(others.Bodies).Order().SequenceEqual(held.Append("after").Order()), Patience, "every message should be handled once");
        if (DrainsHeldMessages)
        {
            Assert.Equal(held, handled);
            Assert.Equal(["after"], others.Bodies);
        }
    }
}
