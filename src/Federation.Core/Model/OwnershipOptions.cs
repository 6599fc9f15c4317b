namespace Federation.Core.Model;

/// <summary>
/// How the instances of one federation notice each other and pass links between them (<c>Federation:Ownership</c>), used
/// when <see cref="FederationOptions.SpreadLinks"/> is on. Every instance of a federation should use the same values. In
/// configuration each is a duration written as a <see cref="TimeSpan"/> (<c>hh:mm:ss</c>, fractions allowed:
/// <c>00:00:01.5</c>). Read at start; a reload does not change them.
/// </summary>
public sealed class OwnershipOptions
{
    /// <summary>The default <see cref="HeartbeatInterval"/>, 1 s.</summary>
    public static readonly TimeSpan DefaultHeartbeatInterval = TimeSpan.FromSeconds(1);

    /// <summary>The default <see cref="PresenceTimeout"/>, 3 s.</summary>
    public static readonly TimeSpan DefaultPresenceTimeout = TimeSpan.FromSeconds(3);

    /// <summary>The default <see cref="SettleTime"/>, 3 s.</summary>
    public static readonly TimeSpan DefaultSettleTime = TimeSpan.FromSeconds(3);

    /// <summary>The default <see cref="FallbackDelay"/>, 15 s.</summary>
    public static readonly TimeSpan DefaultFallbackDelay = TimeSpan.FromSeconds(15);

    /// <summary>The default <see cref="LeaveTimeout"/>, 2 s.</summary>
    public static readonly TimeSpan DefaultLeaveTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How often each instance announces itself on the downstream and re-evaluates where its links belong
    /// (<c>HeartbeatInterval</c>, default 1 s).
    /// </summary>
    public TimeSpan HeartbeatInterval { get; set; } = DefaultHeartbeatInterval;

    /// <summary>
    /// How long an instance may go unheard before the others count it as gone and take its links (<c>PresenceTimeout</c>,
    /// default 3 s). It bounds how long a killed instance's links wait; it must span at least three heartbeats, so that a
    /// heartbeat or two lost or late do not move links away from a live instance.
    /// </summary>
    public TimeSpan PresenceTimeout { get; set; } = DefaultPresenceTimeout;

    /// <summary>
    /// How long an instance must have been heard without a gap before links are handed over to it (<c>SettleTime</c>,
    /// default 3 s): the hysteresis that keeps an instance whose heartbeat flaps from bouncing links. At least one heartbeat.
    /// </summary>
    public TimeSpan SettleTime { get; set; } = DefaultSettleTime;

    /// <summary>
    /// How long a link that belongs on another, live instance may go without this instance asking for its lease, per place
    /// this instance has in the link's preference order (the runner-up asks after this long, the next after twice as
    /// long...) (<c>FallbackDelay</c>, default 15 s). It covers a live instance that does not run the link (one with another
    /// configuration, say); the lease keeps it safe. At least the <see cref="PresenceTimeout"/>.
    /// </summary>
    public TimeSpan FallbackDelay { get; set; } = DefaultFallbackDelay;

    /// <summary>
    /// How long a clean stop waits, in real time, to tell the others that this instance is leaving (<c>LeaveTimeout</c>,
    /// default 2 s). A downstream that does not answer within it cannot hold up the stop; the others then notice the silence
    /// after the <see cref="PresenceTimeout"/> instead.
    /// </summary>
    public TimeSpan LeaveTimeout { get; set; } = DefaultLeaveTimeout;

    /// <summary>A copy, so that a snapshot of the options does not change with them.</summary>
    internal OwnershipOptions Copy() => (OwnershipOptions)MemberwiseClone();
}
