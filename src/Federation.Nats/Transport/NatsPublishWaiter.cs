using System.Threading.Tasks.Sources;

namespace Federation.Nats.Transport;

/// <summary>
/// One confirmed publish's outcome, completed by the confirm batch it belongs to; pooled, back in its pool once the caller
/// has taken the result (exactly once, as a <see cref="ValueTask"/> requires).
/// </summary>
/// <remarks>
/// Why not the batch's task for every publish of the batch: a task runs only its first <c>await</c> continuation inline and
/// queues every other one to the thread pool (the runtime does so, to keep one awaiter from delaying the next), so a batch of
/// n publishes cost n - 1 thread-pool work items. The profile of the on-confirm link showed about one work item per message.
/// A waiter of its own per publish runs its one continuation inline where the batch completes.
/// </remarks>
internal sealed class NatsPublishWaiter : IValueTaskSource
{
    // Continuations run inline where the batch completes them (RunContinuationsAsynchronously is false).
    private ManualResetValueTaskSourceCore<bool> _core;
    private readonly Pool _pool;

    private NatsPublishWaiter(Pool pool) => _pool = pool;

    /// <summary>What the publish's caller awaits.</summary>
    public ValueTask Task => new(this, _core.Version);

    public void Succeed() => _core.SetResult(true);

    public void Fail(Exception error) => _core.SetException(error);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    public void GetResult(short token)
    {
        try
        {
            _core.GetResult(token);
        }
        finally
        {
            // The caller has its result and the batch completed it: nobody refers to this waiter any more.
            _core.Reset();
            _pool.Return(this);
        }
    }

    /// <summary>Waiters ready for reuse, bounded so that a burst does not pin memory.</summary>
    internal sealed class Pool(int limit)
    {
        private readonly Stack<NatsPublishWaiter> _free = new();
        private readonly Lock _gate = new();

        public NatsPublishWaiter Rent()
        {
            lock (_gate)
            {
                if (_free.TryPop(out var waiter))
                {
                    return waiter;
                }
            }

            return new NatsPublishWaiter(this);
        }

        public void Return(NatsPublishWaiter waiter)
        {
            lock (_gate)
            {
                if (_free.Count < limit)
                {
                    _free.Push(waiter);
                }
            }
        }
    }
}
