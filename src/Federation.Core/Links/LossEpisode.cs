namespace Federation.Core.Links;

/// <summary>
/// One episode of trouble on a link, from its first event after a quiet spell until the link forwards again, so that an
/// episode is logged once when it opens and once, with its count, when it closes, however many events it holds.
/// Lock-free: the sessions of a link (and the client threads that report to them) share one.
/// </summary>
internal sealed class LossEpisode
{
    private long _count;
    private int _open;

    /// <summary>Adds <paramref name="count"/> events; true when they opened the episode.</summary>
    public bool Add(long count)
    {
        Interlocked.Add(ref _count, count);
        return Interlocked.Exchange(ref _open, 1) == 0;
    }

    /// <summary>Closes an open episode and returns its count; null when none was open (one volatile read, for every forward).</summary>
    public long? Close() =>
        Volatile.Read(ref _open) != 0 && Interlocked.Exchange(ref _open, 0) != 0 ? Interlocked.Exchange(ref _count, 0) : null;
}
