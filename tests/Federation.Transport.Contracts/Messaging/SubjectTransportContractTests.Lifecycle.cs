using System.Globalization;
using System.Text;
using Federation.Core.Transport.Messaging;
using Xunit;

namespace Federation.Transport.Contracts.Messaging;

public abstract partial class SubjectTransportContractTests
{
    [Fact]
    public async Task DisposingASubscription_StopsDelivery_AndIsIdempotent()
    {
        var subject = UniqueSubject("unsubscribe");
        var subscriber = await OpenAsync();
        var publisher = await OpenAsync();
        var stopped = await SubjectRecorder.StartAsync(subscriber, subject, null, Ct);
        var kept = await SubjectRecorder.StartAsync(subscriber, subject, null, Ct);
        await PublishAsync(publisher, subject, "before");
        await Eventually.TrueAsync(() => stopped.Count == 1 && kept.Count == 1, Patience);

        await stopped.Subscription.DisposeAsync();
        await stopped.Subscription.DisposeAsync();
        await PublishAsync(publisher, subject, "after");

        Assert.Equal(["before", "after"], await ReceivedBeforeMarkerAsync(publisher, subject, kept));
        Assert.Equal(["before"], stopped.Bodies);
    }

    [Fact]
    public async Task DisposingASubscription_WaitsForTheRunningHandlerCall()
    {
        var subject = UniqueSubject("dispose-wait");
        var connection = await OpenAsync();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var disposal = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        bool? disposeHadCompletedWhenTheHandlerReturned = null;
        var subscription = await connection.SubscribeAsync(
            subject,
            null,
            async (_, _) =>
            {
                entered.TrySetResult();
                await release.Task;
                var dispose = await disposal.Task;
                disposeHadCompletedWhenTheHandlerReturned = dispose.IsCompleted;
            },
            Ct);
        await PublishAsync(connection, subject, "slow");
        await entered.Task.WaitAsync(Patience, Ct);

        var disposing = subscription.DisposeAsync().AsTask();
        disposal.SetResult(disposing);
        release.SetResult();
        await disposing.WaitAsync(Patience, Ct);

        Assert.False(disposeHadCompletedWhenTheHandlerReturned);
    }

    [Fact]
    public async Task DisposingASubscription_SignalsTheHandlersToken()
    {
        var subject = UniqueSubject("dispose-token");
        var connection = await OpenAsync();
        var handler = new BlockedUntilCancelled();
        var subscription = await connection.SubscribeAsync(subject, null, handler.HandleAsync, Ct);
        await PublishAsync(connection, subject, "waits-forever");
        await handler.Entered.Task.WaitAsync(Patience, Ct);

        await subscription.DisposeAsync().AsTask().WaitAsync(Patience, Ct);

        Assert.True(handler.SawCancellation);
    }

    [Fact]
    public async Task DisposingASubscription_FromInsideItsOwnHandler_DoesNotDeadlock()
    {
        var subject = UniqueSubject("dispose-self");
        var connection = await OpenAsync();
        var disposed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        ISubjectSubscription? subscription = null;
        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        subscription = await connection.SubscribeAsync(
            subject,
            null,
            async (_, _) =>
            {
                Interlocked.Increment(ref calls);
                await subscribed.Task;
                await subscription!.DisposeAsync();
                disposed.TrySetResult();
            },
            Ct);
        subscribed.SetResult();
        await PublishAsync(connection, subject, "one");
        await PublishAsync(connection, subject, "two");

        await disposed.Task.WaitAsync(Patience, Ct);
        var kept = await SubjectRecorder.StartAsync(connection, subject, null, Ct);
        await ReceivedBeforeMarkerAsync(connection, subject, kept);
        Assert.Equal(1, Volatile.Read(ref calls));
    }

    [Fact]
    public async Task AThrowingHandler_DoesNotEndTheSubscription()
    {
        var subject = UniqueSubject("throws");
        var subscriber = await OpenAsync();
        var publisher = await OpenAsync();
        var seen = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await subscriber.SubscribeAsync(
            subject,
            null,
            (message, _) =>
            {
                var body = Encoding.UTF8.GetString(message.Body.Span);
                seen.Enqueue(body);
                return body.StartsWith("fail", StringComparison.Ordinal) ? throw new InvalidOperationException("handler failure " + body) : ValueTask.CompletedTask;
            },
            Ct);

        await PublishAsync(publisher, subject, "fail-1");
        await PublishAsync(publisher, subject, "ok-2");
        await PublishAsync(publisher, subject, "fail-3");
        await PublishAsync(publisher, subject, "ok-4");

        await Eventually.TrueAsync(() => seen.Count == 4, Patience);
        Assert.Equal(["fail-1", "ok-2", "fail-3", "ok-4"], seen);
    }

    [Fact]
    public async Task TheHandler_IsCalledForOneMessageAtATime()
    {
        const int Count = 200;
        var subject = UniqueSubject("serial");
        var subscriber = await OpenAsync();
        var publisher = await OpenAsync();
        var running = 0;
        var maxRunning = 0;
        var handled = 0;
        await subscriber.SubscribeAsync(
            subject,
            null,
            async (_, _) =>
            {
                var now = Interlocked.Increment(ref running);
                InterlockedMax(ref maxRunning, now);
                await Task.Yield();
                Interlocked.Decrement(ref running);
                Interlocked.Increment(ref handled);
            },
            Ct);

        for (var i = 0; i < Count; i++)
        {
            await PublishAsync(publisher, subject, i.ToString(CultureInfo.InvariantCulture));
        }

        await Eventually.TrueAsync(() => Volatile.Read(ref handled) == Count, Patience);
        Assert.Equal(1, Volatile.Read(ref maxRunning));
    }

    [Fact]
    public async Task DisposingTheConnection_CompletesCompletion_EndsSubscriptions_AndIsIdempotent()
    {
        var connection = await ConnectAsync("dispose-connection", Ct);
        var subject = UniqueSubject("dispose-connection");
        var handler = new BlockedUntilCancelled();
        await connection.SubscribeAsync(subject, null, handler.HandleAsync, Ct);
        await PublishAsync(connection, subject, "blocks");
        await handler.Entered.Task.WaitAsync(Patience, Ct);

        var first = connection.DisposeAsync().AsTask();
        var second = connection.DisposeAsync().AsTask();
        await Task.WhenAll(first, second).WaitAsync(Patience, Ct);
        await connection.DisposeAsync();

        Assert.True(connection.Completion.IsCompletedSuccessfully);
        Assert.True(handler.SawCancellation);
        await Assert.ThrowsAnyAsync<ObjectDisposedException>(async () => await PublishAsync(connection, subject, "after-dispose"));
        await Assert.ThrowsAnyAsync<ObjectDisposedException>(async () => await connection.SubscribeAsync(subject, null, (_, _) => ValueTask.CompletedTask, Ct));
    }

    [Fact]
    public async Task MessagesPublishedJustBeforeDispose_AreDelivered()
    {
        const int Count = 200;
        var subject = UniqueSubject("publish-then-dispose");
        var subscriber = await OpenAsync();
        var recorder = await SubjectRecorder.StartAsync(subscriber, subject, null, Ct);
        var publisher = await ConnectAsync("publish-then-dispose", Ct);

        for (var i = 0; i < Count; i++)
        {
            await PublishAsync(publisher, subject, i.ToString(CultureInfo.InvariantCulture));
        }

        await publisher.DisposeAsync();

        await Eventually.TrueAsync(() => recorder.Count == Count, Patience, "a disposing connection should hand over what it already accepted");
    }

    /// <summary>A handler that blocks until its token is signalled, and remembers that it was.</summary>
    private sealed class BlockedUntilCancelled
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool SawCancellation { get; private set; }

        public async ValueTask HandleAsync(SubjectMessage message, CancellationToken cancellationToken)
        {
            Entered.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                SawCancellation = true;
            }
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
