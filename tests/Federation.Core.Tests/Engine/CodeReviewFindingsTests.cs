using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>Code review findings, proved against the in-memory transport.</summary>
public sealed class CodeReviewFindingsTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();
    private HeldConfirmsTransport _held = null!;

    public Task InitializeAsync()
    {
        _bed.WrapTransport = inner => _held = new HeldConfirmsTransport(new NoPrefetchTransport(inner));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var pending in _held.Held)
        {
            pending.TrySetResult();
        }

        await _bed.DisposeAsync();
    }

    /// <summary>
    /// An upstream whose consumer has no prefetch (core NATS: NatsQueueConsumer never sees ConsumerOptions.Prefetch, and
    /// CanRequeue is false) on an on-confirm link: nothing bounds the forwards waiting for the downstream's confirm, so a
    /// slow downstream makes them pile up in the process (the bounded NATS queue never fills, so never pushes back).
    /// </summary>
    [Fact]
    public async Task Forwards_waiting_for_confirms_are_bounded_by_prefetch_when_the_upstream_consumer_has_no_prefetch()
    {
        var (_, queue) = await _bed.StartSimpleLinkAsync(u => { u.AckMode = AckMode.OnConfirm; u.PrefetchCount = 2; });
        var publisher = await _bed.ConnectAsync("U");
        for (var i = 0; i < 20; i++)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", $"m{i}");
        }

        // As for no-ack (NoAckWindowTests): at most prefetch-count in flight, plus the one the consumer waits for.
        await Testbed.Eventually(() => queue.Count >= 3, () => $"{queue.Count} forwarded");
        await queue.ExpectNoMoreThanAsync(3);
    }

    /// <summary>
    /// A no-ack link that restarts while a forward is in flight: during the drain wait (up to 5 s) the upstream consumer
    /// still delivers, the broker has already removed those deliveries (auto-ack), and LinkSession.OnDeliveryAsync returns
    /// at "!_accepting" without forwarding or counting them.
    /// </summary>
    [Fact]
    public async Task A_no_ack_delivery_that_arrives_while_the_session_shuts_down_is_forwarded_or_counted()
    {
        _bed.WrapTransport = inner => _held = new HeldConfirmsTransport(inner);
        var (engine, queue) = await _bed.StartSimpleLinkAsync(u => { u.AckMode = AckMode.NoAck; u.PrefetchCount = 100; });
        var publisher = await _bed.ConnectAsync("U");
        await Testbed.PublishAsync(publisher, "upstream", "key", "held");
        await queue.ExpectAsync("held"); // written downstream, its publish held: one forward in flight

        var before = engine.GetLinks()[0].Since;
        Assert.True(await engine.RestartLinkAsync(engine.GetLinks()[0].Id, CancellationToken.None));
        var during = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            await Task.Delay(50); // spread over the shutdown's 5 s drain wait
            during.Add($"during{i}");
            await Testbed.PublishAsync(publisher, "upstream", "key", $"during{i}");
        }

        foreach (var pending in _held.Held)
        {
            pending.TrySetResult();
        }

        // The status says running throughout the shutdown: wait for the next session's running.
        await Testbed.Eventually(() => engine.GetLinks() is [{ State: LinkState.Running } link] && link.Since > before, () => $"{engine.GetLinks()[0].State}");
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);
        await Testbed.PublishAsync(publisher, "upstream", "key", "after");
        await Testbed.Eventually(
            () =>
            {
                foreach (var pending in _held.Held)
                {
                    pending.TrySetResult();
                }

                return queue.Bodies.Contains("after");
            },
            () => "the message after the restart should arrive");

        var missing = during.Where(b => !queue.Bodies.Contains(b)).ToList();
        var dropped = engine.GetLinks()[0].DroppedMessages?.Values.Sum() ?? 0;
        Assert.True(missing.Count <= dropped, $"{missing.Count} messages neither forwarded nor counted as dropped ({string.Join(", ", missing)}); dropped: {dropped}");
    }

    /// <summary>
    /// A publish that fails synchronously (JetStreamPublisher.PublishAsync throws ConnectionLostException from
    /// JetStreamPubAckInbox.Register once its inbox closed with the connection) lands in LinkSession.Forward's catch-all,
    /// which fails the session without the "unconfirmed" count PublishFailedAsync gives the same failure when it comes
    /// asynchronously: on a no-ack link (or from core NATS) the message is gone and uncounted.
    /// </summary>
    [Fact]
    public async Task A_no_ack_message_whose_publish_throws_synchronously_is_counted_as_unconfirmed()
    {
        // Not under HeldConfirmsTransport, whose async publish would turn the throw into a faulted task.
        ThrowingPublisherTransport? throwing = null;
        _bed.WrapTransport = inner => throwing = new ThrowingPublisherTransport(inner);
        _held = new HeldConfirmsTransport(_bed.Transport);
        var (engine, queue) = await _bed.StartSimpleLinkAsync(u => u.AckMode = AckMode.NoAck);
        var publisher = await _bed.ConnectAsync("U");
        await Testbed.PublishAsync(publisher, "upstream", "key", ThrowingPublisherTransport.FailingBody);
        await Testbed.Eventually(() => throwing!.Threw, () => "the forward should have reached the throwing publisher");
        await Testbed.Eventually(
            () => engine.GetLinks()[0].DroppedMessages?.GetValueOrDefault("unconfirmed") == 1,
            () => $"{engine.GetLinks()[0].State} {engine.GetLinks()[0].Error}; dropped: {string.Join(", ", engine.GetLinks()[0].DroppedMessages ?? new Dictionary<string, long>())}",
            TimeSpan.FromSeconds(5));
    }

    private sealed class ThrowingPublisherTransport(ITransport inner) : ITransport
    {
        public const string FailingBody = "throws synchronously";
        private int _failed;

        public bool Threw => Volatile.Read(ref _failed) == 1;

        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
            new Connection(await inner.ConnectAsync(request, cancellationToken), this);

        private sealed class Connection(IBrokerConnection inner, ThrowingPublisherTransport transport) : DelegatingBrokerConnection(inner)
        {
            public override async ValueTask<IMessagePublisher> OpenPublisherAsync(PublisherOptions options, CancellationToken cancellationToken) =>
                new Publisher(await Inner.OpenPublisherAsync(options, cancellationToken), transport);
        }

        private sealed class Publisher(IMessagePublisher inner, ThrowingPublisherTransport transport) : IMessagePublisher
        {
            public ValueTask PublishAsync(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) =>
                System.Text.Encoding.UTF8.GetString(body.Span) == FailingBody && Interlocked.Exchange(ref transport._failed, 1) == 0
                    ? throw new ConnectionLostException("The JetStream publisher is closed.")
                    : inner.PublishAsync(exchange, routingKey, properties, body, cancellationToken);

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }

    /// <summary>Upstream consumers as core NATS gives them: no prefetch, and nothing can be given back.</summary>
    private sealed class NoPrefetchTransport(ITransport inner) : ITransport
    {
        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
            new Connection(await inner.ConnectAsync(request, cancellationToken));

        private sealed class Connection(IBrokerConnection inner) : DelegatingBrokerConnection(inner)
        {
            public override async ValueTask<IMessageConsumer> ConsumeAsync(string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken) =>
                new Consumer(await Inner.ConsumeAsync(queue, options with { Prefetch = 0 }, handler, cancellationToken));
        }

        private sealed class Consumer(IMessageConsumer inner) : IMessageConsumer
        {
            public Task Completion => inner.Completion;

            public bool CanRequeue => false;

            public ValueTask AckAsync(ulong deliveryTag, bool multiple, CancellationToken cancellationToken) => inner.AckAsync(deliveryTag, multiple, cancellationToken);

            public ValueTask NackAsync(ulong deliveryTag, bool multiple, bool requeue, CancellationToken cancellationToken) =>
                inner.NackAsync(deliveryTag, multiple, requeue, cancellationToken);

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }
}
