using Federation.Core.Transport.Messaging;

namespace Federation.Core.Collectives;

/// <summary>A request for <see cref="FederatedClient.RequestAsync"/>.</summary>
public sealed record FederatedRequest
{
    /// <summary>The broker clusters (federation names, Choria's <c>plugin.choria.federation.collectives</c>) to send it through; each gets every chunk.</summary>
    public required IReadOnlyList<string> Federations { get; init; }

    /// <summary>The target subjects in the member collectives, for example <c>mcollective.broadcast.agent.rpcutil</c> or <c>mcollective.node.web1</c>.</summary>
    public required IReadOnlyList<string> Targets { get; init; }

    /// <summary>The payload, passed to the targets byte for byte.</summary>
    public ReadOnlyMemory<byte> Body { get; init; }

    /// <summary>Headers of the request itself (passed through by the brokers), or null. None may bear an envelope header's name (<see cref="FederationHeaders"/>): the client writes those.</summary>
    public IReadOnlyList<KeyValuePair<string, string>>? Headers { get; init; }

    /// <summary>Stop waiting once this many replies arrived; null waits for the whole <see cref="Timeout"/>.</summary>
    public int? ExpectedReplies { get; init; }

    /// <summary>
    /// How long to wait, from the call, for the server to confirm the request (a flush, which waits for a lost connection to
    /// come back) and for its replies: from zero (send and return at once, without waiting for either) to <see cref="MaxTimeout"/>.
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The longest <see cref="Timeout"/>: 4294967294 ms (about 49.7 days), the longest wait a .NET timer takes. To wait for
    /// replies with no limit of its own, cancel the request instead.
    /// </summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>
    /// The most replies kept (default <see cref="DefaultMaxReplies"/>). The reply subject reaches every node of the targeted
    /// collectives, so a node that replies in a loop could otherwise fill the client's memory until the timeout; replies
    /// beyond this are dropped and counted in <see cref="FederatedReplies.RepliesDropped"/>, and the wait ends.
    /// </summary>
    public int MaxReplies { get; init; } = DefaultMaxReplies;

    /// <summary>The default of <see cref="MaxReplies"/>: far more than the largest Choria fleets have nodes.</summary>
    public const int DefaultMaxReplies = 1_000_000;

    /// <summary>
    /// The most bytes of replies kept (default <see cref="DefaultMaxReplyBytes"/>): bodies, and header names and values
    /// counted as UTF-8. <see cref="MaxReplies"/> bounds how many; this bounds how large, since any node of the targeted
    /// collectives can answer, and a few replies of many megabytes each would fill the client's memory as surely as a
    /// loop. A reply that would go past it is dropped and counted in <see cref="FederatedReplies.RepliesDropped"/>, and the
    /// wait ends.
    /// </summary>
    public long MaxReplyBytes { get; init; } = DefaultMaxReplyBytes;

    /// <summary>The default of <see cref="MaxReplyBytes"/>: 256 MiB.</summary>
    public const long DefaultMaxReplyBytes = 256L * 1024 * 1024;
}

/// <summary>The outcome of <see cref="FederatedClient.RequestAsync"/>.</summary>
/// <param name="RequestId">The request id the brokers saw.</param>
/// <param name="MessagesPublished">Messages the client published: chunks times federations.</param>
/// <param name="Replies">The replies that arrived, in arrival order (bodies copied).</param>
/// <param name="Completed">True when the expected count arrived before the timeout; false on timeout (always false without an expected count), and when no broker serves any of the clusters (<see cref="FederatedReplies.UnservedFederations"/>).</param>
public sealed record FederatedReplies(string RequestId, int MessagesPublished, IReadOnlyList<SubjectMessage> Replies, bool Completed)
{
    /// <summary>Replies that arrived after <see cref="FederatedRequest.MaxReplies"/> were kept, or that would have gone past <see cref="FederatedRequest.MaxReplyBytes"/>, and were dropped.</summary>
    public long RepliesDropped { get; init; }

    /// <summary>
    /// The broker clusters of <see cref="FederatedRequest.Federations"/> that no broker instance serves: the transport said
    /// that nothing subscribes to their subject on the federation (NATS's "no responders"; the in-memory bus and AMQP, from
    /// RabbitMQ's basic.return, too). When none of the clusters is served the request ends at
    /// once, without <see cref="Completed"/>. Empty otherwise.
    /// </summary>
    public IReadOnlyList<string> UnservedFederations { get; init; } = [];

    /// <summary>Why the request could not be answered, for the operator (for example which cluster no broker serves), or null.</summary>
    public string? Reason { get; init; }
}
