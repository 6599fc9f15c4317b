namespace Federation.Core.Model;

/// <summary>The keys of <c>federation-upstream</c> and <c>federation-upstream-set</c> parameters, in rabbitmqctl spelling.</summary>
internal static class UpstreamKeys
{
    /// <summary>Upstream only; a set element may not override it.</summary>
    public const string Uri = "uri";
    /// <summary>Set elements only: the upstream the element refers to.</summary>
    public const string Upstream = "upstream";
    public const string Exchange = "exchange";
    public const string Queue = "queue";
    public const string ConsumerTag = "consumer-tag";
    public const string MaxHops = "max-hops";
    public const string PrefetchCount = "prefetch-count";
    public const string ReconnectDelay = "reconnect-delay";
    /// <summary>Ours, not the plugin's: <c>exponential</c> or <c>fixed</c> spacing of reconnect attempts.</summary>
    public const string ReconnectBackoff = "reconnect-backoff";
    /// <summary>Ours, not the plugin's: the cap of the exponential backoff, in seconds.</summary>
    public const string ReconnectDelayMax = "reconnect-delay-max";
    public const string AckMode = "ack-mode";
    public const string TrustUserId = "trust-user-id";
    public const string Expires = "expires";
    public const string MessageTtl = "message-ttl";
    public const string QueueType = "queue-type";
    public const string BindNowait = "bind-nowait";
    public const string ResourceCleanupMode = "resource-cleanup-mode";
    public const string ChannelUseMode = "channel-use-mode";
    /// <summary>Ours, not the plugin's: remember forwarded deliveries in a ledger on the downstream and drop redeliveries of them (on-confirm links).</summary>
    public const string DuplicateSuppression = "duplicate-suppression";

    public static readonly Keywords<Model.AckMode> AckModes =
        new(("on-confirm", Model.AckMode.OnConfirm), ("on-publish", Model.AckMode.OnPublish), ("no-ack", Model.AckMode.NoAck));

    public static readonly Keywords<ReconnectBackoffMode> ReconnectBackoffModes =
        new(("exponential", ReconnectBackoffMode.Exponential), ("fixed", ReconnectBackoffMode.Fixed));

    public static readonly Keywords<UpstreamQueueType> QueueTypes =
        new(("classic", UpstreamQueueType.Classic), ("quorum", UpstreamQueueType.Quorum));

    public static readonly Keywords<Model.ResourceCleanupMode> ResourceCleanupModes =
        new(("default", Model.ResourceCleanupMode.Default), ("never", Model.ResourceCleanupMode.Never));

    public static readonly Keywords<Model.ChannelUseMode> ChannelUseModes =
        new(("multiple", Model.ChannelUseMode.Multiple), ("single", Model.ChannelUseMode.Single));
}
