namespace Federation.Core.Collectives;

/// <summary>What one broker instance has handled since it was created (the same events as its metrics, without tags).</summary>
/// <param name="RequestsReceived">Messages received on the federation side.</param>
/// <param name="RepliesReceived">Messages received on the collective side.</param>
/// <param name="Published">Messages published (one per request target, one per reply).</param>
/// <param name="Errors">Rejected messages and failed publishes.</param>
public sealed record FederationBrokerStatistics(long RequestsReceived, long RepliesReceived, long Published, long Errors);
