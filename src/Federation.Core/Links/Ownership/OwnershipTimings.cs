using Federation.Core.Model;

namespace Federation.Core.Links.Ownership;

/// <summary>How often instances announce themselves, and how the others read silence (from <see cref="OwnershipOptions"/>).</summary>
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
/// <param name="LeaveWithin">
/// How long, in real time, a clean stop waits to say "leaving": a downstream that stopped answering must not hold up a stop;
/// the others then notice the silence instead.
/// </param>
internal sealed record OwnershipTimings(TimeSpan HeartbeatEvery, TimeSpan LiveFor, TimeSpan SettleAfter, TimeSpan FallbackAfter, TimeSpan LeaveWithin)
{
    /// <summary>The defaults of <see cref="OwnershipOptions"/>: 1 s heartbeats, live for 3 s, settled after 3 s, fallback after 15 s per rank, 2 s to leave.</summary>
    public static OwnershipTimings Default { get; } = From(new OwnershipOptions());

    /// <summary>The timings <paramref name="options"/> (validated) configure.</summary>
    public static OwnershipTimings From(OwnershipOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new(options.HeartbeatInterval, options.PresenceTimeout, options.SettleTime, options.FallbackDelay, options.LeaveTimeout);
    }
}
