using Federation.Core.Transport;
using NATS.Client.JetStream;

namespace Federation.Nats.JetStream;

/// <summary>
/// An upstream queue in JetStream mode: a durable pull consumer (named after the queue) on the stream of the one exchange
/// whose bindings lead to the queue. The consumer is attached once a binding says which exchange that is; consuming
/// starts then.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001:Types that own disposable fields should be disposable", Justification = "The token source has no timer; consumers may still hold its token after the queue is gone.")]
internal sealed class JetStreamQueue(string name, JetStreamBindingGraph graph)
{
    private readonly TaskCompletionSource<JetStreamAttachment> _attached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _deleted = new();

    public string Name { get; } = name;

    /// <summary>The durable consumer's name.</summary>
    public string ConsumerName { get; } = JetStreamNames.ConsumerFor(name);

    /// <summary>Completes when the durable consumer exists; faults when the queue is deleted first.</summary>
    public Task<JetStreamAttachment> Attached => _attached.Task;

    /// <summary>
    /// The most unacknowledged deliveries a consumer of this queue asked for (<see cref="ConsumerOptions.Prefetch"/>), or 0:
    /// the durable consumer's <c>max_ack_pending</c> is raised to it, since the server's default (1,000) would cap a larger
    /// <c>prefetch-count</c> without a word.
    /// </summary>
    public int Prefetch
    {
        get => Volatile.Read(ref _prefetch);
        set => Volatile.Write(ref _prefetch, value);
    }

    private int _prefetch;

    /// <summary>
    /// The <see cref="Prefetch"/> for which the server refused to raise the durable consumer's <c>max_ack_pending</c> (an
    /// account or server limit; warning 6402 said so), or 0: not asked for again while this queue lives.
    /// </summary>
    public int MaxAckPendingRefused
    {
        get => Volatile.Read(ref _maxAckPendingRefused);
        set => Volatile.Write(ref _maxAckPendingRefused, value);
    }

    private int _maxAckPendingRefused;

    /// <summary>
    /// Whether <paramref name="consumerAckWait"/>, an ack wait of the durable consumer longer than this instance's, is seen
    /// for the first time (warning 6403 says so once per value, not at every look of a running link).
    /// </summary>
    public bool FirstSeenLongerAckWait(TimeSpan consumerAckWait) =>
        Interlocked.Exchange(ref _longerAckWaitSeen, consumerAckWait.Ticks) != consumerAckWait.Ticks;

    private long _longerAckWaitSeen;

    /// <summary>
    /// The queue whose place this one takes (<see cref="QueueSpec.TakesOver"/>), or null: a durable consumer created for
    /// this queue starts at the acknowledgement floor of that queue's consumer on the same stream, when there is one.
    /// </summary>
    public string? TakesOver
    {
        get => Volatile.Read(ref _takesOver);
        set => Volatile.Write(ref _takesOver, value);
    }

    private string? _takesOver;

    /// <summary>Signalled when the queue is deleted: its consumers stop.</summary>
    public CancellationToken Deleted => _deleted.Token;

    /// <summary>Whether a message published to <paramref name="exchange"/> with <paramref name="routingKey"/> reaches this queue now.</summary>
    public bool Routes(string exchange, string routingKey) => graph.Routes(exchange, routingKey, Name);

    public void Attach(JetStreamAttachment attachment) => _attached.TrySetResult(attachment);

    public void Delete()
    {
        _attached.TrySetException(new ResourceNotFoundException($"Queue '{Name}' was deleted."));
        _deleted.Cancel();
    }
}

/// <summary>
/// The durable consumer of a queue, the stream it reads, the exchange whose subjects that stream captures, the upstream
/// part of the identities of its messages (<see cref="JetStreamMessageIdentity.Of"/>), and how far the link has settled
/// the consumer (its consumers report what they take on and settle).
/// </summary>
internal sealed record JetStreamAttachment(INatsJSConsumer Consumer, string Exchange, string Stream, string Upstream, JetStreamAckFloor Floor);
