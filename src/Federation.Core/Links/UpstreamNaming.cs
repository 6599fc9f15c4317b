namespace Federation.Core.Links;

/// <summary>Names of the objects a link declares on its upstream, exactly as the federation plugin names them.</summary>
internal static class UpstreamNaming
{
    /// <summary>
    /// <c>federation: UX -> C</c>, plus <c>:DX</c> when the exchanges differ within one vhost, or <c>:DV:DX</c> across vhosts,
    /// so that links from different downstream exchanges or vhosts to one upstream never share a queue.
    /// </summary>
    public static string QueueName(string upstreamExchange, string downstreamCluster, string downstreamVhost, string downstreamExchange, string upstreamVhost)
    {
        var suffix = downstreamVhost != upstreamVhost
            ? $":{downstreamVhost}:{downstreamExchange}"
            : downstreamExchange != upstreamExchange ? $":{downstreamExchange}" : "";
        return $"federation: {upstreamExchange} -> {downstreamCluster}{suffix}";
    }

    /// <summary>
    /// The downstream ledger of a link with duplicate suppression (ours, not the plugin's): one per link, named after the
    /// federated exchange, the upstream and the stable link id, so that no two links share one. Shortened as
    /// <see cref="BoundedNames.WithSuffix"/> does when that would not fit in a queue name (the link id stays in it).
    /// </summary>
    public static string LedgerName(string downstreamExchange, string upstreamName, string linkId) =>
        BoundedNames.WithSuffix($"federation: {downstreamExchange} <- {upstreamName}", $" ledger {linkId}");

    /// <summary>
    /// The internal exchange of one link generation: the queue name plus <c> A</c> or <c> B</c>, as the plugin names it;
    /// shortened as <see cref="BoundedNames.WithSuffix"/> does when that would not fit in an exchange name (where the
    /// plugin, whose queue name still fits, could not run the link at all).
    /// </summary>
    public static string InternalExchangeName(string queueName, char generation) => BoundedNames.WithSuffix(queueName, $" {generation}");

    /// <summary>
    /// Both generations an internal exchange can have (<see cref="InternalExchangeName"/>): a clean-up that cannot know
    /// which one is current goes through both.
    /// </summary>
    public static IReadOnlyList<char> InternalExchangeGenerations { get; } = ['A', 'B'];

    /// <summary>
    /// The link's sentinel on the upstream (ours, not the plugin's): the queue name plus <c> sentinel</c>, shortened as
    /// <see cref="BoundedNames.WithSuffix"/> does when that would not fit in an exchange name. See
    /// <c>LinkSession.SetUpSentinelAsync</c> for what it tells.
    /// </summary>
    public static string SentinelExchangeName(string queueName) => BoundedNames.WithSuffix(queueName, " sentinel");

    /// <summary>
    /// The queue that takes the link's upstream queue's place while that is declared anew with other arguments (ours, not
    /// the plugin's; see <c>ExchangeLink.Handover</c>): the queue name plus <c> (handover)</c>, shortened as
    /// <see cref="BoundedNames.WithSuffix"/> does when that would not fit in a queue name.
    /// </summary>
    public static string HandoverQueueName(string queueName) => BoundedNames.WithSuffix(queueName, " (handover)");

    /// <summary>The connection name the plugin uses, shown in broker tools and in status.</summary>
    public static string ConnectionName(string upstreamName, string? policyName) =>
        policyName is null ? "Federation link" : $"Federation link (upstream: {upstreamName}, policy: {policyName})";

    /// <summary>
    /// The connection name of a probe that asks an upstream which cluster it belongs to (<see cref="UpstreamCluster"/>): one
    /// probe serves every link moved from or to that upstream, so it is named as none of them, and an operator who sees it
    /// in broker tools sees what it is.
    /// </summary>
    public const string ProbeConnectionName = "Federation upstream cluster probe";

    /// <summary>The <c>exchange</c> field of an <c>x-bound-from</c> entry: <c>"DV:DX A|B"</c>.</summary>
    public static string BoundFromDescriptor(string downstreamVhost, string downstreamExchange, char generation) =>
        $"{downstreamVhost}:{downstreamExchange} {generation}";
}
