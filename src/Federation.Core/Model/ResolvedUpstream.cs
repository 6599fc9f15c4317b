namespace Federation.Core.Model;

/// <summary>
/// One upstream element with every value resolved (set element, then upstream, then default): what one link runs with.
/// Two equal values mean an unchanged link, which reconfiguration leaves running.
/// </summary>
internal sealed record ResolvedUpstream(
    string UpstreamName,
    IReadOnlyList<string> Uris,
    string? Exchange,
    int MaxHops,
    int PrefetchCount,
    TimeSpan ReconnectDelay,
    AckMode AckMode,
    bool TrustUserId,
    long? Expires,
    long? MessageTtl,
    UpstreamQueueType QueueType,
    string? Queue,
    bool BindNowait,
    ResourceCleanupMode ResourceCleanupMode,
    ChannelUseMode ChannelUseMode)
{
    /// <summary>The plugin's defaults.</summary>
    public const int DefaultMaxHops = 1;
    /// <summary>Default <c>prefetch-count</c>.</summary>
    public const int DefaultPrefetchCount = 1000;
    /// <summary>Default <c>reconnect-delay</c> (the code's 5 s, not the docs' 1 s).</summary>
    public static readonly TimeSpan DefaultReconnectDelay = TimeSpan.FromSeconds(5);

    /// <summary>The upstream exchange name for a federated exchange.</summary>
    public string UpstreamExchangeFor(string downstreamExchange) => Exchange ?? downstreamExchange;

    /// <inheritdoc />
    public bool Equals(ResolvedUpstream? other) =>
        other is not null
        && UpstreamName == other.UpstreamName
        && Uris.SequenceEqual(other.Uris)
        && Exchange == other.Exchange
        && MaxHops == other.MaxHops
        && PrefetchCount == other.PrefetchCount
        && ReconnectDelay == other.ReconnectDelay
        && AckMode == other.AckMode
        && TrustUserId == other.TrustUserId
        && Expires == other.Expires
        && MessageTtl == other.MessageTtl
        && QueueType == other.QueueType
        && Queue == other.Queue
        && BindNowait == other.BindNowait
        && ResourceCleanupMode == other.ResourceCleanupMode
        && ChannelUseMode == other.ChannelUseMode;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(UpstreamName, Exchange, MaxHops, AckMode, Uris.Count);

    /// <summary>Shows the element without credentials.</summary>
    public override string ToString() =>
        $"{UpstreamName} ({string.Join(", ", Uris.Select(Transport.UriRedaction.Redact))}, exchange={Exchange ?? "<same>"}, max-hops={MaxHops})";
}
