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
    ReconnectBackoffMode ReconnectBackoff,
    TimeSpan? ReconnectDelayMaxSetting,
    AckMode AckMode,
    bool TrustUserId,
    long? Expires,
    long? MessageTtl,
    UpstreamQueueType QueueType,
    string? Queue,
    bool BindNowait,
    ResourceCleanupMode ResourceCleanupMode,
    ChannelUseMode ChannelUseMode,
    bool DuplicateSuppression = true)
{
    /// <summary>The plugin's defaults.</summary>
    public const int DefaultMaxHops = 1;
    /// <summary>Default <c>prefetch-count</c>.</summary>
    public const int DefaultPrefetchCount = 1000;
    /// <summary>Default <c>reconnect-delay</c> (the code's 5 s, not the docs' 1 s).</summary>
    public static readonly TimeSpan DefaultReconnectDelay = TimeSpan.FromSeconds(5);
    /// <summary>Default <c>reconnect-delay-max</c>: a minute, long enough to spare a broker that is down, short enough to notice it is back.</summary>
    public static readonly TimeSpan DefaultReconnectDelayMax = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The cap of the exponential backoff: <c>reconnect-delay-max</c>, else the default, and never below <c>reconnect-delay</c>
    /// (a set element may raise the delay over the upstream's cap; the delay wins, as the more specific value).
    /// </summary>
    public TimeSpan ReconnectDelayMax => TimeSpan.FromTicks(Math.Max(ReconnectDelay.Ticks, (ReconnectDelayMaxSetting ?? DefaultReconnectDelayMax).Ticks));

    /// <summary>An upstream's own values, with the plugin's default for each key it does not set.</summary>
    public static ResolvedUpstream FromDefinition(string name, UpstreamDefinition upstream) => new(
        name,
        Array.AsReadOnly([.. upstream.Uris]),
        upstream.Exchange,
        upstream.MaxHops ?? DefaultMaxHops,
        upstream.PrefetchCount ?? DefaultPrefetchCount,
        upstream.ReconnectDelaySeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : DefaultReconnectDelay,
        upstream.ReconnectBackoff ?? ReconnectBackoffMode.Exponential,
        upstream.ReconnectDelayMaxSeconds is { } max ? TimeSpan.FromSeconds(max) : null,
        upstream.AckMode ?? AckMode.OnConfirm,
        upstream.TrustUserId ?? false,
        upstream.Expires,
        upstream.MessageTtl,
        upstream.QueueType ?? UpstreamQueueType.Classic,
        upstream.Queue,
        upstream.BindNowait ?? false,
        upstream.ResourceCleanupMode ?? ResourceCleanupMode.Default,
        upstream.ChannelUseMode ?? ChannelUseMode.Multiple,
        upstream.DuplicateSuppression ?? true);

    /// <summary>
    /// This upstream as a set element resolves it: each value the element sets wins over the upstream's. Because this
    /// instance already holds the upstream's value or the default, that is the plugin's "element, else upstream, else default".
    /// </summary>
    public ResolvedUpstream WithOverrides(UpstreamParameters element) => this with
    {
        Exchange = element.Exchange ?? Exchange,
        MaxHops = element.MaxHops ?? MaxHops,
        PrefetchCount = element.PrefetchCount ?? PrefetchCount,
        ReconnectDelay = element.ReconnectDelaySeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : ReconnectDelay,
        ReconnectBackoff = element.ReconnectBackoff ?? ReconnectBackoff,
        ReconnectDelayMaxSetting = element.ReconnectDelayMaxSeconds is { } max ? TimeSpan.FromSeconds(max) : ReconnectDelayMaxSetting,
        AckMode = element.AckMode ?? AckMode,
        TrustUserId = element.TrustUserId ?? TrustUserId,
        Expires = element.Expires ?? Expires,
        MessageTtl = element.MessageTtl ?? MessageTtl,
        QueueType = element.QueueType ?? QueueType,
        Queue = element.Queue ?? Queue,
        BindNowait = element.BindNowait ?? BindNowait,
        ResourceCleanupMode = element.ResourceCleanupMode ?? ResourceCleanupMode,
        ChannelUseMode = element.ChannelUseMode ?? ChannelUseMode,
        DuplicateSuppression = element.DuplicateSuppression ?? DuplicateSuppression,
    };

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
        && ReconnectBackoff == other.ReconnectBackoff
        && ReconnectDelayMaxSetting == other.ReconnectDelayMaxSetting
        && AckMode == other.AckMode
        && TrustUserId == other.TrustUserId
        && Expires == other.Expires
        && MessageTtl == other.MessageTtl
        && QueueType == other.QueueType
        && Queue == other.Queue
        && BindNowait == other.BindNowait
        && ResourceCleanupMode == other.ResourceCleanupMode
        && ChannelUseMode == other.ChannelUseMode
        && DuplicateSuppression == other.DuplicateSuppression;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(UpstreamName, Exchange, MaxHops, AckMode, Uris.Count);

    /// <summary>Shows the element without credentials.</summary>
    public override string ToString() =>
        $"{UpstreamName} ({string.Join(", ", Uris.Select(Transport.UriRedaction.Redact))}, exchange={Exchange ?? "<same>"}, max-hops={MaxHops})";
}
