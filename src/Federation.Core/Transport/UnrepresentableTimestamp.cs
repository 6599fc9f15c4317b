using System.Globalization;

namespace Federation.Core.Transport;

/// <summary>
/// A timestamp header value that <see cref="DateTimeOffset"/> cannot represent (before the year 1 or after 9999), kept as
/// its exact seconds since the Unix epoch. AMQP timestamps are 64-bit counts of seconds, and a sender that writes
/// milliseconds there (a common mistake) produces one; such a value is legal and is forwarded unchanged.
/// </summary>
/// <param name="UnixSeconds">Seconds since the Unix epoch.</param>
public readonly record struct UnrepresentableTimestamp(long UnixSeconds)
{
    private static readonly long MinSeconds = DateTimeOffset.MinValue.ToUnixTimeSeconds();
    private static readonly long MaxSeconds = DateTimeOffset.MaxValue.ToUnixTimeSeconds();

    /// <summary>Whether <see cref="DateTimeOffset.FromUnixTimeSeconds"/> can represent <paramref name="unixSeconds"/>.</summary>
    /// <param name="unixSeconds">Seconds since the Unix epoch.</param>
    public static bool IsRepresentable(long unixSeconds) => unixSeconds >= MinSeconds && unixSeconds <= MaxSeconds;

    /// <summary>
    /// The normalised header value for an AMQP timestamp: a <see cref="DateTimeOffset"/> when it can represent it,
    /// otherwise an <see cref="UnrepresentableTimestamp"/>.
    /// </summary>
    /// <param name="unixSeconds">Seconds since the Unix epoch.</param>
    public static object FromUnixSeconds(long unixSeconds) =>
        IsRepresentable(unixSeconds) ? DateTimeOffset.FromUnixTimeSeconds(unixSeconds) : new UnrepresentableTimestamp(unixSeconds);

    /// <summary>The seconds, in invariant text.</summary>
    public override string ToString() => UnixSeconds.ToString(CultureInfo.InvariantCulture);
}
