using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// What a <see cref="LinkSession"/> needs from its link, spelled out: the session sees these and nothing else of the
/// link, so the link's run loop, status and lease stay its own. One per link; every session of the link shares it.
/// </summary>
/// <param name="Definition">The link's definition.</param>
/// <param name="Bindings">The downstream exchange's bindings; a session attaches <paramref name="Feed"/> to replay them.</param>
/// <param name="Feed">The binding changes the session mirrors upstream.</param>
/// <param name="Generations">The A/B generation each link used last in this process.</param>
/// <param name="Counters">Where forwarded and dropped messages are counted (metrics and the link's status).</param>
/// <param name="Logger">The link's logger.</param>
/// <param name="Time">The clock for the session's timeouts and checks.</param>
/// <param name="Revocations">Ledger revocations a session could not store yet, for the next one to store before it consumes.</param>
internal sealed record LinkSessionContext(
    LinkDefinition Definition,
    ExchangeBindings Bindings,
    BindingFeed Feed,
    LinkGenerations Generations,
    LinkCounters Counters,
    ILogger Logger,
    TimeProvider Time,
    Deduplication.PendingRevocations Revocations)
{
    /// <summary>Whether warning 1019 is due; kept across the link's sessions (and by <c>with</c>) so that it is said once per episode.</summary>
    public SentinelWarnings Sentinel { get; init; } = new();
}
