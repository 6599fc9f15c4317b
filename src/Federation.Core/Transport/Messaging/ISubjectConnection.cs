namespace Federation.Core.Transport.Messaging;

/// <summary>
/// One connection to a subject-addressed server (a NATS server, a RabbitMQ vhost through its topic exchange, or an in-memory bus). Thread-safe: publishes and
/// subscriptions may come from several threads.
/// </summary>
/// <remarks>
/// Delivery is at-most-once, as in core NATS: a message published while nobody is subscribed, or while the connection is
/// down, is gone. Subject syntax is NATS's: dot-separated tokens, <c>*</c> matches one token, a trailing <c>&gt;</c>
/// matches one or more; publish subjects have no wildcards.
/// </remarks>
public interface ISubjectConnection : IAsyncDisposable
{
    /// <summary>The URI without credentials, for logs and status.</summary>
    string DisplayUri { get; }

    /// <summary>
    /// The server this connection is attached to right now (a URL without credentials), or null while disconnected. The
    /// collective broker records it in the seen-by trail.
    /// </summary>
    string? ConnectedServer { get; }

    /// <summary>Completes when the connection is closed for good: successfully on dispose, faulted when it is lost beyond recovery.</summary>
    Task Completion { get; }

    /// <summary>
    /// Subscribes to <paramref name="subject"/>. With a <paramref name="queueGroup"/>, each message goes to one member of the
    /// group only, across every connection that subscribed with the same subject and group; that is how stateless broker
    /// instances share work.
    /// </summary>
    /// <param name="subject">A subject, wildcards allowed. Invalid subjects throw <see cref="ArgumentException"/> naming it.</param>
    /// <param name="queueGroup">The queue group, or null for a plain subscription that gets every message.</param>
    /// <param name="handler">Called once per message, one message at a time per subscription. An exception is counted and logged by the transport, never rethrown into the connection.</param>
    /// <param name="cancellationToken">Cancels the subscribe call, not the subscription.</param>
    ValueTask<ISubjectSubscription> SubscribeAsync(string subject, string? queueGroup, SubjectMessageHandler handler, CancellationToken cancellationToken);

    /// <summary>
    /// Subscribes as <see cref="SubscribeAsync(string, string?, SubjectMessageHandler, CancellationToken)"/> does, and tells
    /// <paramref name="dropped"/> of each message meant for this subscription that the transport dropped before the handler
    /// saw it, so that the subscriber can count it: a message whose headers it could not read (reason
    /// <c>unreadable</c>), one that found the subscription's queue full (<c>slow_consumer</c>).
    /// </summary>
    /// <remarks>
    /// The default implementation subscribes without reporting drops, for a transport that never drops a message it
    /// received. <paramref name="dropped"/> may be called on any thread, also while the handler runs; it must not throw
    /// or block.
    /// </remarks>
    /// <param name="subject">A subject, wildcards allowed.</param>
    /// <param name="queueGroup">The queue group, or null.</param>
    /// <param name="handler">Called once per message, one message at a time.</param>
    /// <param name="dropped">Told of dropped messages, or null to only have them logged by the transport.</param>
    /// <param name="cancellationToken">Cancels the subscribe call, not the subscription.</param>
    ValueTask<ISubjectSubscription> SubscribeAsync(string subject, string? queueGroup, SubjectMessageHandler handler, MessageDropHandler? dropped, CancellationToken cancellationToken) =>
        SubscribeAsync(subject, queueGroup, handler, cancellationToken);

    /// <summary>Publishes one message. Returns once the message is handed to the connection's writer, not when it is delivered.</summary>
    /// <param name="message">The message; its <see cref="SubjectMessage.Subject"/> must not contain wildcards.</param>
    /// <param name="cancellationToken">Cancels waiting for buffer space.</param>
    ValueTask PublishAsync(SubjectMessage message, CancellationToken cancellationToken);

    /// <summary>Waits until everything published so far has reached the server (a PING/PONG round trip on NATS).</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    ValueTask FlushAsync(CancellationToken cancellationToken);
}

/// <summary>Handles one message of an <see cref="ISubjectSubscription"/>.</summary>
/// <param name="message">The message. Its body may be reused after the handler returns: copy it to keep it.</param>
/// <param name="cancellationToken">Signalled when the subscription or connection closes.</param>
public delegate ValueTask SubjectMessageHandler(SubjectMessage message, CancellationToken cancellationToken);

/// <summary>A live subscription. Dispose it to unsubscribe; disposal waits for the running handler call to finish.</summary>
public interface ISubjectSubscription : IAsyncDisposable
{
    /// <summary>The subscribed subject.</summary>
    string Subject { get; }

    /// <summary>The queue group, or null.</summary>
    string? QueueGroup { get; }

    /// <summary>
    /// Unsubscribes gently: no new message comes (a queue group hands them to its other members from now on), the handler
    /// still gets every message the transport already holds for this subscription, and then the subscription is disposed.
    /// When <paramref name="cancellationToken"/> fires first, it is disposed at once: what is left is dropped as by
    /// <see cref="IAsyncDisposable.DisposeAsync"/> (told to the drop handler as <c>stopped</c>). The handler's token is
    /// not signalled while it drains. Called from the subscription's own handler, it does not wait for that handler.
    /// </summary>
    /// <remarks>
    /// The default disposes at once: right for a transport that holds nothing the server would not give to another member
    /// (on AMQP, a delivery the handler has not taken is unacknowledged and goes back to the queue when the channel closes).
    /// </remarks>
    /// <param name="cancellationToken">Ends the wait for the held messages.</param>
    ValueTask DrainAsync(CancellationToken cancellationToken) => DisposeAsync();
}
