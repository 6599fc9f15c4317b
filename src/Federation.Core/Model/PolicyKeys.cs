namespace Federation.Core.Model;

/// <summary>The keys of a policy and of its definition, in rabbitmqctl spelling.</summary>
internal static class PolicyKeys
{
    public const string Pattern = "pattern";
    public const string ApplyTo = "apply-to";
    public const string Priority = "priority";
    public const string Definition = "definition";

    /// <summary>Present in a RabbitMQ definitions export and the management API; accepted and ignored by JSON import.</summary>
    public const string Name = "name";
    /// <summary>Present in a RabbitMQ definitions export; accepted and ignored by JSON import (one instance is one vhost).</summary>
    public const string Vhost = "vhost";

    public const string FederationUpstream = "federation-upstream";
    public const string FederationUpstreamSet = "federation-upstream-set";
    public const string FederationUpstreamPattern = "federation-upstream-pattern";

    /// <summary>The policy's <c>federation-upstream-set</c> value meaning every defined upstream.</summary>
    public const string AllUpstreamsSet = "all";

    /// <summary>The plugin's message for a definition with more than one federation key.</summary>
    public const string FederationKeysTogether =
        "cannot specify federation-upstream, federation-upstream-set or federation-upstream-pattern together";

    /// <summary>The <c>apply-to</c> values rabbitmqctl accepts.</summary>
    public static readonly string[] ApplyToValues = ["exchanges", "queues", "classic_queues", "quorum_queues", "streams", "all"];

    /// <summary>The <c>apply-to</c> values under which a policy applies to exchanges.</summary>
    public static bool AppliesToExchanges(string applyTo) => applyTo is "exchanges" or "all";

    /// <summary>
    /// Non-federation definition keys RabbitMQ registers (policies and operator policies, 4.x plus the 3.x mirroring keys
    /// so that older definition exports load). They are kept in <see cref="FederationPolicyDefinition.OtherKeys"/> and
    /// matter only because they make a policy match and so shadow lower-priority policies. Any other key is rejected, as
    /// RabbitMQ rejects it with "Unrecognised terms".
    /// </summary>
    public static readonly string[] OtherDefinitionKeys =
    [
        "alternate-exchange", "dead-letter-exchange", "dead-letter-routing-key", "dead-letter-strategy",
        "message-ttl", "expires", "max-length", "max-length-bytes", "max-in-memory-length", "max-in-memory-bytes",
        "overflow", "delivery-limit", "queue-mode", "queue-version", "queue-leader-locator", "queue-master-locator",
        "initial-cluster-size", "target-group-size", "max-age", "stream-max-segment-size-bytes", "stream-filter-size-bytes",
        "consumer-timeout",
        "ha-mode", "ha-params", "ha-sync-mode", "ha-sync-batch-size", "ha-promote-on-shutdown", "ha-promote-on-failure",
    ];

    /// <summary>The canonical spelling of a known non-federation definition key, or null when the key is unknown.</summary>
    public static string? FindOtherDefinitionKey(string key, StringComparer comparer) =>
        Array.Find(OtherDefinitionKeys, known => comparer.Equals(known, key));
}
