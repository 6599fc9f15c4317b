namespace Federation.Core.Links.Ownership;

/// <summary>How often instances announce themselves, and how the others read silence.</summary>
/// <param name="HeartbeatEvery">How often each engine publishes its heartbeat, and re-evaluates placement and handovers.</param>
/// <param name="LiveFor">An instance not heard for longer than this is no longer live: the survivors take its links.</param>
/// <param name="SettleAfter">
/// How long an instance must have been live without a gap before links are handed over to it: the hysteresis that keeps a
/// flapping heartbeat from bouncing links.
/// </param>
/// <param name="FallbackAfter">
/// How long a link that another instance should run may go without this engine trying its lease, per place this engine has
/// in the link's preference order (the runner-up tries after this long, the next after twice as long...). It covers a
/// preferred instance that is live but does not run the link (another configuration, say); the lease keeps it safe.
/// </param>
internal sealed record OwnershipTimings(TimeSpan HeartbeatEvery, TimeSpan LiveFor, TimeSpan SettleAfter, TimeSpan FallbackAfter)
{
    /// <summary>1 s heartbeats, live for 3 s, settled after 3 s, fallback after 15 s per rank.</summary>
    public static OwnershipTimings Default { get; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(15));
}
