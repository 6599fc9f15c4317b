namespace Federation.Core.Links.Ownership;

/// <summary>What changed about the runs that share this instance's name (see <see cref="NamesakeRuns"/>), for the log.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="Incarnation">The other run: the one heard, or the one this instance stands aside for or stood aside for.</param>
/// <param name="Started">When that run started, as its heartbeats say; null when they do not.</param>
internal sealed record NamesakeNotice(NamesakeNoticeKind Kind, string Incarnation, DateTimeOffset? Started);
