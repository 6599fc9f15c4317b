namespace Federation.Amqp;

/// <summary>
/// A small thread-safe pool of reusable objects that keeps at most a fixed number of them. The publisher recycles its
/// per-publish and per-confirm-frame objects through it so that the forward path allocates nothing per message
/// (the benchmarks count bytes per message); the bound keeps a burst from pinning its peak of objects for the
/// publisher's lifetime. A lock around a stack is enough: renting and returning take a few nanoseconds under it, and
/// it allocates nothing once warm (Microsoft.Extensions.ObjectPool is not referenced by this project).
/// </summary>
/// <typeparam name="T">The pooled objects; the owner resets one before it returns it.</typeparam>
internal sealed class BoundedPool<T>
    where T : class
{
    private readonly Stack<T> _items = new();
    private readonly Func<T> _create;
    private readonly int _limit;

    /// <param name="create">Makes a new object when the pool is empty; created once, so renting allocates no delegate.</param>
    /// <param name="limit">How many returned objects are kept at most; further returns are left to the collector.</param>
    public BoundedPool(Func<T> create, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        _create = create;
        _limit = limit;
    }

    /// <summary>A pooled object, or a new one when none is pooled.</summary>
    public T Rent()
    {
        lock (_items)
        {
            if (_items.TryPop(out var pooled))
            {
                return pooled;
            }
        }

        return _create();
    }

    /// <summary>Keeps <paramref name="item"/> for reuse unless the pool is full. The caller must no longer use it.</summary>
    public void Return(T item)
    {
        lock (_items)
        {
            if (_items.Count < _limit)
            {
                _items.Push(item);
            }
        }
    }
}
