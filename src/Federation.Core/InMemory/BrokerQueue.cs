using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>A queue: ready messages, its consumers and the bindings that feed it. Guarded by the virtual host lock.</summary>
internal sealed class BrokerQueue : IDisposable
{
    private readonly BrokerVirtualHost virtualHost;
    private readonly TimeProvider timeProvider;
    private readonly QueueArguments arguments;
    private readonly RingBuffer<QueuedMessage> messages = new();
    private readonly List<InMemoryConsumer> consumers = [];
    private readonly ITimer? expiryTimer;
    private int nextConsumer;
    private DateTimeOffset lastUsed;

    public BrokerQueue(BrokerVirtualHost virtualHost, QueueSpec spec, QueueArguments arguments, InMemoryConnection? owner, TimeProvider timeProvider)
    {
        this.virtualHost = virtualHost;
        this.timeProvider = timeProvider;
        this.arguments = arguments;
        Spec = spec;
        Owner = owner;
        lastUsed = timeProvider.GetUtcNow();
        if (arguments.Expires is { } expires)
        {
            expiryTimer = timeProvider.CreateTimer(static state => ((BrokerQueue)state!).OnExpiryTimer(), this, TimerDue(expires), Timeout.InfiniteTimeSpan);
        }
    }

    public QueueSpec Spec { get; }

    /// <summary>The connection an exclusive queue belongs to.</summary>
    public InMemoryConnection? Owner { get; }

    /// <summary>Bindings whose destination is this queue.</summary>
    public List<BrokerBinding> IncomingBindings { get; } = [];

    public IReadOnlyList<InMemoryConsumer> Consumers => consumers;

    /// <summary>Whoever watches this queue for its deletion (exclusive queue leases).</summary>
    public HashSet<InMemoryQueueWatch> Watches { get; } = [];

    public bool IsDeleted { get; private set; }

    /// <summary>Messages waiting for a consumer, after dropping the expired ones.</summary>
    public int ReadyCount
    {
        get
        {
            DropExpiredHead();
            return messages.Count;
        }
    }

    public void Enqueue(StoredMessage message)
    {
        messages.PushBack(new QueuedMessage(message, Redelivered: false));
        Dispatch();
    }

    /// <summary>Returns messages to the head of the queue, in the given order, flagged as redelivered. Call <see cref="Dispatch"/> afterwards.</summary>
    public void Requeue(IReadOnlyList<QueuedMessage> returned)
    {
        for (var i = returned.Count - 1; i >= 0; i--)
        {
            messages.PushFront(returned[i] with { Redelivered = true });
        }
    }

    /// <summary>Hands ready messages round-robin to consumers that have room under their prefetch.</summary>
    public void Dispatch()
    {
        while (consumers.Count > 0)
        {
            DropExpiredHead();
            if (messages.Count == 0 || NextConsumerWithCapacity() is not { } consumer)
            {
                return;
            }

            consumer.Deliver(messages.PopFront());
        }
    }

    public void AddConsumer(InMemoryConsumer consumer)
    {
        consumers.Add(consumer);
        expiryTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        Dispatch();
    }

    /// <summary>Removes a consumer; returns whether the queue is now unused and auto-delete, so the caller deletes it.</summary>
    public bool RemoveConsumer(InMemoryConsumer consumer)
    {
        if (!consumers.Remove(consumer) || consumers.Count > 0)
        {
            return false;
        }

        MarkUsed();
        return Spec.AutoDelete;
    }

    /// <summary>Restarts the <c>x-expires</c> countdown (on redeclare, and when the last consumer leaves).</summary>
    public void MarkUsed()
    {
        lastUsed = timeProvider.GetUtcNow();
        if (consumers.Count == 0 && arguments.Expires is { } expires)
        {
            expiryTimer!.Change(TimerDue(expires), Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>
    /// After the expiry timer fired and the queue had not expired: a period longer than a timer takes (RabbitMQ accepts up
    /// to 2^32 - 1 ms, a timer 2^32 - 2) is waited out in more than one step. A queue with consumers waits for the last to leave.
    /// </summary>
    public void RearmExpiry()
    {
        if (!IsDeleted && consumers.Count == 0 && arguments.Expires is { } expires)
        {
            expiryTimer!.Change(TimerDue(expires - (timeProvider.GetUtcNow() - lastUsed)), Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Marks the queue deleted, drops its messages and returns the consumers the caller must cancel.</summary>
    public List<InMemoryConsumer> MarkDeleted()
    {
        IsDeleted = true;
        expiryTimer?.Dispose();
        messages.Clear();
        var cancelled = new List<InMemoryConsumer>(consumers);
        consumers.Clear();
        foreach (var watch in Watches)
        {
            watch.QueueDeleted();
        }

        Watches.Clear();
        return cancelled;
    }

    public void Dispose() => expiryTimer?.Dispose();

    private InMemoryConsumer? NextConsumerWithCapacity()
    {
        for (var tried = 0; tried < consumers.Count; tried++)
        {
            var index = (nextConsumer + tried) % consumers.Count;
            if (consumers[index].HasCapacity)
            {
                nextConsumer = (index + 1) % consumers.Count;
                return consumers[index];
            }
        }

        return null;
    }

    private void DropExpiredHead()
    {
        if (arguments.MessageTtl is not { } ttl || messages.Count == 0)
        {
            return;
        }

        var now = timeProvider.GetUtcNow();
        while (messages.Count > 0 && now - messages.Front.Message.PublishedAt > ttl)
        {
            messages.PopFront();
        }
    }

    /// <summary>Whether <c>x-expires</c> has run out: no consumer and no redeclare for that long.</summary>
    public bool HasExpired() =>
        !IsDeleted && consumers.Count == 0 && arguments.Expires is { } expires && timeProvider.GetUtcNow() - lastUsed >= expires;

    // The longest due time a timer takes; a longer x-expires is re-armed for the rest when the timer fires (RearmExpiry).
    private static readonly TimeSpan LongestTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    private static TimeSpan TimerDue(TimeSpan left) => left > LongestTimer ? LongestTimer : left < TimeSpan.Zero ? TimeSpan.Zero : left;

    // Timers fire on the thread pool; the virtual host re-checks under its lock, because a consumer or redeclare may have raced the timer.
    private void OnExpiryTimer() => virtualHost.DeleteQueueIfExpired(this);
}
