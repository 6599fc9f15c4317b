using System.Collections.Concurrent;

namespace Federation.Core.Links;

/// <summary>
/// The A/B internal-exchange generation each link used last in this process, by link id. A link's next session swaps to
/// the other one than the upstream shows in use; this memory decides only when the upstream cannot tell (neither or both
/// exist), because with several instances the link may have run elsewhere since. It outlives the links themselves, so
/// that a link restarted by a reconfiguration still swaps.
/// </summary>
internal sealed class LinkGenerations
{
    private readonly ConcurrentDictionary<string, char> _last = new(StringComparer.Ordinal);

    /// <summary>The generation the link with <paramref name="linkId"/> used last, if it ran in this process.</summary>
    public bool TryRecall(string linkId, out char generation) => _last.TryGetValue(linkId, out generation);

    /// <summary>Records the generation a link's session has just set up.</summary>
    public void Remember(string linkId, char generation) => _last[linkId] = generation;
}
