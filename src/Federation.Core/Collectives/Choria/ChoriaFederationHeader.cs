namespace Federation.Core.Collectives.Choria;

/// <summary>The <c>federation</c> block of a Choria transport header.</summary>
/// <param name="RequestId">v1 <c>req</c>, v2 <c>request</c>: the request id; null when absent or empty.</param>
/// <param name="ReplyTo">v1 <c>reply-to</c>, v2 <c>reply</c>: the client's reply subject, stashed by the broker on the request; null when absent or empty.</param>
/// <param name="Targets">v1 <c>target</c>, v2 <c>targets</c>: the subjects the broker publishes the request to.</param>
internal sealed record ChoriaFederationHeader(string? RequestId, string? ReplyTo, IReadOnlyList<string> Targets);
