namespace Federation.Core.Model;

/// <summary>An upstream set element that resolves exactly like an earlier element of the same set, and is therefore used once.</summary>
/// <param name="Set">The set's name.</param>
/// <param name="Index">The duplicate element's position in the set (0-based, as in <c>UpstreamSets:NAME:INDEX</c>).</param>
/// <param name="FirstIndex">The position of the earlier element it repeats.</param>
/// <param name="Upstream">The upstream both elements name.</param>
internal sealed record DuplicateSetElement(string Set, int Index, int FirstIndex, string Upstream);
