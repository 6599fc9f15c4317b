namespace Federation.Core.Model;

/// <summary>
/// The upstream keys an upstream set element may override. Every property is optional: an unset value falls back to the
/// upstream's value and then to the plugin's default. Property names map to rabbitmqctl's keys as noted on each.
/// </summary>
public abstract class UpstreamParameters
{
    /// <summary><c>exchange</c>: name of the upstream exchange. Default: the federated (downstream) exchange's name.</summary>
    public string? Exchange { get; set; }

    /// <summary><c>queue</c>: name of the upstream queue, for queue federation. Default: the federated queue's name.</summary>
    public string? Queue { get; set; }

    /// <summary><c>consumer-tag</c>: queue federation only; accepted for compatibility.</summary>
    public string? ConsumerTag { get; set; }

    /// <summary><c>max-hops</c>: the most federation links a message may have crossed, including the next one. Default 1.</summary>
    public int? MaxHops { get; set; }

    /// <summary><c>prefetch-count</c>: unacknowledged messages in flight per link. Default 1000. Not applied with <see cref="Model.AckMode.NoAck"/>.</summary>
    public int? PrefetchCount { get; set; }

    /// <summary><c>reconnect-delay</c>, in seconds: the delay between reconnect attempts after the first, immediate one. Default 5.</summary>
    public double? ReconnectDelaySeconds { get; set; }

    /// <summary>
    /// <c>reconnect-backoff</c> (not a plugin key): <c>exponential</c> (default), the wait doubling from <c>reconnect-delay</c>
    /// up to <c>reconnect-delay-max</c> with jitter, or <c>fixed</c>, the plugin's constant <c>reconnect-delay</c>.
    /// </summary>
    public ReconnectBackoffMode? ReconnectBackoff { get; set; }

    /// <summary>
    /// <c>reconnect-delay-max</c>, in seconds (not a plugin key): the longest wait of the exponential backoff. Default 60, or
    /// <c>reconnect-delay</c> when that is longer; must not be below a <c>reconnect-delay</c> given with it.
    /// </summary>
    public double? ReconnectDelayMaxSeconds { get; set; }

    /// <summary><c>ack-mode</c>: <c>on-confirm</c> (default), <c>on-publish</c> or <c>no-ack</c>.</summary>
    public AckMode? AckMode { get; set; }

    /// <summary><c>trust-user-id</c>: keep the <c>user_id</c> property of forwarded messages instead of clearing it. Default false.</summary>
    public bool? TrustUserId { get; set; }

    /// <summary><c>expires</c>, in milliseconds: <c>x-expires</c> of the upstream queue. Default: none.</summary>
    public long? Expires { get; set; }

    /// <summary><c>message-ttl</c>, in milliseconds: <c>x-message-ttl</c> of the upstream queue. Default: none.</summary>
    public long? MessageTtl { get; set; }

    /// <summary><c>queue-type</c>: <c>classic</c> (default) or <c>quorum</c>.</summary>
    public UpstreamQueueType? QueueType { get; set; }

    /// <summary><c>bind-nowait</c>: send binding commands upstream without waiting for replies. Default false.</summary>
    public bool? BindNowait { get; set; }

    /// <summary><c>resource-cleanup-mode</c>: <c>default</c> or <c>never</c>.</summary>
    public ResourceCleanupMode? ResourceCleanupMode { get; set; }

    /// <summary><c>channel-use-mode</c>: only <c>multiple</c> (the default, and what links always do) is valid; <c>single</c> is read but refused by validation.</summary>
    public ChannelUseMode? ChannelUseMode { get; set; }

    /// <summary>
    /// <c>duplicate-suppression</c> (not a plugin key): with <c>ack-mode</c> <c>on-confirm</c>, the link records what it forwarded
    /// in a ledger on the downstream broker and acknowledges, without forwarding again, a delivery it has already forwarded
    /// (a redelivery after a crash of the upstream broker or of this process). Default true; ignored with the other ack modes
    /// and on transports that cannot keep a ledger. See the README's "Duplicate suppression" for what it guarantees.
    /// </summary>
    public bool? DuplicateSuppression { get; set; }
}
