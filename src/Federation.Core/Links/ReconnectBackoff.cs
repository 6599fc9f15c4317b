using Federation.Core.Model;

namespace Federation.Core.Links;

/// <summary>
/// The waits between reconnect attempts of one failing connection. The first retry after a failure is immediate (the
/// plugin's rule: most failures are one-off). After that, <see cref="ReconnectBackoffMode.Fixed"/> waits exactly the
/// delay each time, as the plugin does; <see cref="ReconnectBackoffMode.Exponential"/> doubles a ceiling from the delay
/// up to the cap (delay, 2x, 4x, ... cap) and waits a random time in the upper half of it ("equal jitter": between
/// ceiling / 2 and ceiling), so that many links that lost the same broker spread their attempts instead of retrying in
/// step, and none retries sooner than half its ceiling. Not thread-safe: one connection loop owns it.
/// </summary>
internal sealed class ReconnectBackoff
{
    private readonly Func<double> _random;
    private int _failuresInARow;

    /// <param name="mode">Exponential or fixed.</param>
    /// <param name="delay">The first non-zero wait (<c>reconnect-delay</c>); positive.</param>
    /// <param name="cap">The longest ceiling (<c>reconnect-delay-max</c>); a cap below <paramref name="delay"/> is raised to it.</param>
    /// <param name="random">Uniform numbers in [0, 1); the shared generator when null. Injected by tests to pin the jitter.</param>
    public ReconnectBackoff(ReconnectBackoffMode mode, TimeSpan delay, TimeSpan cap, Func<double>? random = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(delay, TimeSpan.Zero);
        Mode = mode;
        Delay = delay;
        Cap = cap < delay ? delay : cap;
        // Jitter only spreads attempts in time; it guards nothing, so a non-cryptographic generator is right.
#pragma warning disable CA5394
        _random = random ?? Random.Shared.NextDouble;
#pragma warning restore CA5394
    }

    /// <summary>The backoff an upstream's resolved values ask for.</summary>
    public static ReconnectBackoff For(ResolvedUpstream upstream, Func<double>? random = null) =>
        new(upstream.ReconnectBackoff, upstream.ReconnectDelay, upstream.ReconnectDelayMax, random);

    public ReconnectBackoffMode Mode { get; }

    public TimeSpan Delay { get; }

    public TimeSpan Cap { get; }

    /// <summary>Failures since the last <see cref="Reset"/>.</summary>
    public int FailuresInARow => _failuresInARow;

    /// <summary>Counts a failure and returns how long to wait before the next attempt.</summary>
    public TimeSpan NextDelay()
    {
        var ceiling = Ceiling(_failuresInARow);
        _failuresInARow = _failuresInARow == int.MaxValue ? int.MaxValue : _failuresInARow + 1;
        if (Mode == ReconnectBackoffMode.Fixed || ceiling == TimeSpan.Zero)
        {
            return ceiling;
        }

        // Equal jitter: the upper half of the ceiling. Clamped, in case a source returns 1.
        var fraction = Math.Clamp(_random(), 0.0, 1.0);
        return TimeSpan.FromTicks(ceiling.Ticks / 2 + (long)(ceiling.Ticks / 2 * fraction));
    }

    /// <summary>
    /// The connection made progress (stayed up for a while, or was restarted on purpose): the next failure retries at once
    /// and the schedule starts again from <see cref="Delay"/>.
    /// </summary>
    public void Reset() => _failuresInARow = 0;

    /// <summary>
    /// The longest wait after the failure that follows <paramref name="failuresBefore"/> others: zero for the first, then
    /// the delay, doubled for each further failure in exponential mode, never over the cap.
    /// </summary>
    public TimeSpan Ceiling(int failuresBefore)
    {
        if (failuresBefore <= 0)
        {
            return TimeSpan.Zero;
        }

        if (Mode == ReconnectBackoffMode.Fixed)
        {
            return Delay;
        }

        // Doubling stops at the cap, so long failure runs neither overflow nor loop more than ~log2(cap / delay) times.
        var ceiling = Delay;
        for (var i = 1; i < failuresBefore && ceiling < Cap; i++)
        {
            ceiling = ceiling.Ticks > Cap.Ticks / 2 ? Cap : ceiling * 2;
        }

        return ceiling < Cap ? ceiling : Cap;
    }
}
