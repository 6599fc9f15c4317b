using System.Text;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A publish that fails with the downstream connection, from an upstream that cannot send the message again (core NATS,
/// or any upstream in no-ack mode): the link restarts, and the message is gone or not, nobody knows. It used to be
/// neither forwarded nor dropped in the counters (a black-box run counted 19 more messages received than forwarded
/// across a downstream crash); it is counted as <c>unconfirmed</c>.
/// </summary>
public sealed class UnconfirmedLossTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();

    public Task InitializeAsync()
    {
        _bed.WrapTransport = inner => new AtMostOnceTransport(inner);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    [Fact]
    public async Task A_message_lost_with_the_downstream_connection_from_an_upstream_that_cannot_resend_it_is_counted()
    {
        var (engine, queue) = await _bed.StartSimpleLinkAsync();
        var publisher = await _bed.ConnectAsync("U");
        await Testbed.PublishAsync(publisher, "upstream", "key", "before");
        await queue.ExpectAsync("before");

        await Testbed.PublishAsync(publisher, "upstream", "key", AtMostOnceTransport.FailingBody);
        await Testbed.Eventually(
            () => engine.GetLinks()[0].DroppedMessages?.GetValueOrDefault("unconfirmed") == 1,
            () => $"{engine.GetLinks()[0].State} {engine.GetLinks()[0].Error}; dropped: {string.Join(", ", engine.GetLinks()[0].DroppedMessages ?? new Dictionary<string, long>())}");

        // The link started over, and goes on.
        await Testbed.Eventually(() => engine.GetLinks() is [{ State: LinkState.Running }], () => $"{engine.GetLinks()[0].State}");
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);
        await Testbed.PublishAsync(publisher, "upstream", "key", "after");
        await Testbed.Eventually(() => queue.Bodies.Contains("after"), () => "a message after the failure should arrive");

        // (The in-memory broker under the wrapper does redeliver the failed one; a core NATS upstream would not.)
        Assert.Equal(1, engine.GetLinks()[0].DroppedMessages?.GetValueOrDefault("unconfirmed"));
    }

    /// <summary>
    /// A publish that fails synchronously (JetStreamPublisher.PublishAsync throws ConnectionLostException once its PubAck
    /// inbox closed with the connection) is the same failure as one that comes asynchronously: on a no-ack link the
    /// message is gone, and counted. It used to land in a catch-all that failed the session without the count.
    /// </summary>
    [Fact]
    public async Task A_no_ack_message_whose_publish_throws_synchronously_is_counted_as_unconfirmed()
    {
        // Not under HeldConfirmsTransport, whose async publish would turn the throw into a faulted task.
        ThrowingPublisherTransport? throwing = null;
        _bed.WrapTransport = inner => throwing = new ThrowingPublisherTransport(inner);
        var (engine, _) = await _bed.StartSimpleLinkAsync(u => u.AckMode = AckMode.NoAck);
        var publisher = await _bed.ConnectAsync("U");
        await Testbed.PublishAsync(publisher, "upstream", "key", ThrowingPublisherTransport.FailingBody);
        await Testbed.Eventually(() => throwing!.Threw, () => "the forward should have reached the throwing publisher");
        await Testbed.Eventually(
            () => engine.GetLinks()[0].DroppedMessages?.GetValueOrDefault("unconfirmed") == 1,
            () => $"{engine.GetLinks()[0].State} {engine.GetLinks()[0].Error}; dropped: {string.Join(", ", engine.GetLinks()[0].DroppedMessages ?? new Dictionary<string, long>())}",
            TimeSpan.FromSeconds(5));
    }

    /// <summary>A downstream publisher that throws from PublishAsync, once, instead of returning a faulted task.</summary>
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
                Encoding.UTF8.GetString(body.Span) == FailingBody && Interlocked.Exchange(ref transport._failed, 1) == 0
                    ? throw new ConnectionLostException("The JetStream publisher is closed.")
                    : inner.PublishAsync(exchange, routingKey, properties, body, cancellationToken);

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }

    /// <summary>Upstream consumers that cannot requeue (as core NATS), and a downstream that fails one publish as a lost connection.</summary>
    private sealed class AtMostOnceTransport(ITransport inner) : ITransport
    {
        public const string FailingBody = "lost with the connection";
        private int _failed;

        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
            new Connection(await inner.ConnectAsync(request, cancellationToken), this);

        private bool FailOnce() => Interlocked.Exchange(ref _failed, 1) == 0;

        private sealed class Connection(IBrokerConnection inner, AtMostOnceTransport transport) : DelegatingBrokerConnection(inner)
        {
            public override async ValueTask<IMessageConsumer> ConsumeAsync(string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken) =>
                new Consumer(await Inner.ConsumeAsync(queue, options, handler, cancellationToken));

            public override async ValueTask<IMessagePublisher> OpenPublisherAsync(PublisherOptions options, CancellationToken cancellationToken) =>
                new Publisher(await Inner.OpenPublisherAsync(options, cancellationToken), transport);
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

        private sealed class Publisher(IMessagePublisher inner, AtMostOnceTransport transport) : IMessagePublisher
        {
            public ValueTask PublishAsync(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) =>
                Encoding.UTF8.GetString(body.Span) == FailingBody && transport.FailOnce()
                    ? ValueTask.FromException(new ConnectionLostException("the downstream connection was lost"))
                    : inner.PublishAsync(exchange, routingKey, properties, body, cancellationToken);

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }
}
