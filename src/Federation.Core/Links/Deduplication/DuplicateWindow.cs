namespace Federation.Core.Links.Deduplication;

/// <summary>
/// The identities of the newest deliveries a link has forwarded: at most <see cref="Capacity"/> of them, none older than
/// <see cref="MaxAge"/>. Adding beyond the capacity forgets the oldest; an identity older than the age is forgotten when
/// the window is next used. Thread-safe.
/// </summary>
internal sealed class DuplicateWindow
{
    private readonly Queue<LedgerEntry> _order = new();
    // Counts, not a set: the same identity may be added twice (a ledger read back holds the snapshot and later records).
    private readonly Dictionary<UInt128, int> _members = [];
    private readonly Lock _sync = new();

    public DuplicateWindow(int capacity, TimeSpan maxAge)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(maxAge, TimeSpan.Zero);
        Capacity = capacity;
        MaxAge = maxAge;
    }

    public int Capacity { get; }

    public TimeSpan MaxAge { get; }

    /// <summary>The identities held now (including ones past their age that were not yet evicted).</summary>
    public int Count
    {
        get
        {
            lock (_sync)
            {
                return _members.Count;
            }
        }
    }

    /// <summary>Whether <paramref name="identity"/> was added less than <see cref="MaxAge"/> before <paramref name="now"/> and not pushed out since.</summary>
    public bool Contains(UInt128 identity, DateTimeOffset now)
    {
        lock (_sync)
        {
            EvictOlderThan(now - MaxAge);
            return _members.ContainsKey(identity);
        }
    }

    /// <summary>Adds identities in the order given; each entry's time is when it was confirmed downstream.</summary>
    public void Add(IEnumerable<LedgerEntry> entries, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(entries);
        lock (_sync)
        {
            var oldest = (now - MaxAge).ToUnixTimeMilliseconds();
            foreach (var entry in entries)
            {
                if (entry.ConfirmedAtUnixMs <= oldest)
                {
                    continue; // Read back from a ledger, already too old to matter.
                }

                _order.Enqueue(entry);
                _members[entry.Identity] = _members.GetValueOrDefault(entry.Identity) + 1;
                if (_order.Count > Capacity)
                {
                    Forget(_order.Dequeue());
                }
            }
        }
    }

    /// <summary>The entries held, oldest first, without the ones past their age: what a compacted ledger record keeps.</summary>
    public LedgerEntry[] Snapshot(DateTimeOffset now)
    {
        lock (_sync)
        {
            EvictOlderThan(now - MaxAge);
            return [.. _order];
        }
    }

    private void EvictOlderThan(DateTimeOffset limit)
    {
        var limitMs = limit.ToUnixTimeMilliseconds();
        // Entries are added in confirmation order, so the oldest is at the head (a ledger read back is sorted first).
        while (_order.TryPeek(out var head) && head.ConfirmedAtUnixMs <= limitMs)
        {
            Forget(_order.Dequeue());
        }
    }

    private void Forget(LedgerEntry entry)
    {
        var left = _members[entry.Identity] - 1;
        if (left == 0)
        {
            _members.Remove(entry.Identity);
        }
        else
        {
            _members[entry.Identity] = left;
        }
    }
}
