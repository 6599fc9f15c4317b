using System.Collections.Concurrent;

namespace Federation.Core.Links;

/// <summary>
/// The A/B internal-exchange generation each link used last in this process, by link id. A link's next session swaps to
/// the other one than the upstream shows in use; this memory decides only when the upstream cannot tell (neither or both
/// exist), because with several instances the link may have run elsewhere since. It outlives each run of a link, so that a
/// link restarted by a reconfiguration still swaps, but not a link removed from the configuration (<see cref="Forget"/>):
/// otherwise a process whose links come and go (generated exchange names, say) would keep an entry for every one ever run.
/// </summary>
internal sealed class LinkGenerations
{
    private readonly ConcurrentDictionary<string, char> _last = new(StringComparer.Ordinal);

    /// <summary>The generation the link with <paramref name="linkId"/> used last, if it ran in this process.</summary>
    public bool TryRecall(string linkId, out char generation) => _last.TryGetValue(linkId, out generation);

    /// <summary>Records the generation a link's session has just set up.</summary>
    public void Remember(string linkId, char generation) => _last[linkId] = generation;

    /// <summary>
    /// Drops what a removed link used, once it has stopped. Should it come back, the upstream tells which generation is in
    /// use; when it cannot (neither or both exist), the default is as safe: binding into an existing exchange is idempotent.
    /// </summary>
    public void Forget(string linkId) => _last.TryRemove(linkId, out _);

    /// <summary>How many links are remembered (tests look).</summary>
    internal int Count => _last.Count;
}
