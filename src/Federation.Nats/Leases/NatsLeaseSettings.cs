using System.Globalization;

namespace Federation.Nats.Leases;

/// <summary>
/// The lease keys of a NATS transport URI: whether the connection offers link leases, the JetStream key-value bucket
/// that holds them, and their time-to-live (see <see cref="NatsKvLeases"/>).
/// </summary>
/// <param name="Enabled">Whether the connection offers leases at all (<c>leases=false</c> turns them off).</param>
/// <param name="Bucket">The key-value bucket of the leases.</param>
/// <param name="TimeToLive">The max age of a bucket this transport creates, which is the lease's time-to-live.</param>
internal sealed record NatsLeaseSettings(bool Enabled, string Bucket, TimeSpan TimeToLive)
{
    /// <summary>Query key: <c>true</c> (default) or <c>false</c>.</summary>
    public const string LeasesKey = "leases";

    /// <summary>Query key: the bucket's name.</summary>
    public const string BucketKey = "lease-bucket";

    /// <summary>Query key: the time-to-live of a lease in milliseconds.</summary>
    public const string TimeToLiveKey = "lease-ttl-ms";

    /// <summary>The bucket when the URI names none.</summary>
    public const string DefaultBucket = "federation-leases";

    /// <summary>
    /// The time-to-live when the URI gives none: a holder that vanished without its server noticing frees the lease at most
    /// this long after its last renewal, and a waiting engine polls at least every 5 s, so it takes over within 10 s.
    /// </summary>
    public static readonly TimeSpan DefaultTimeToLive = TimeSpan.FromSeconds(5);

    // Renewals go every third of the time-to-live, and each needs a round trip: below a second there is no room for one.
    private static readonly TimeSpan ShortestTimeToLive = TimeSpan.FromSeconds(1);

    /// <summary>The defaults: leases on, in <see cref="DefaultBucket"/>, for <see cref="DefaultTimeToLive"/>.</summary>
    public static readonly NatsLeaseSettings Default = new(true, DefaultBucket, DefaultTimeToLive);

    /// <summary>Every lease query key.</summary>
    public static readonly IReadOnlyList<string> QueryKeys = [LeasesKey, BucketKey, TimeToLiveKey];

    /// <summary>Reads one lease key (one of <see cref="QueryKeys"/>) into <paramref name="settings"/>; a bad value adds a problem naming the key and the value.</summary>
    public static NatsLeaseSettings Read(NatsLeaseSettings settings, string key, string value, List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(problems);
        switch (key)
        {
            case LeasesKey when bool.TryParse(value, out var enabled):
                return settings with { Enabled = enabled };
            case LeasesKey:
                problems.Add($"has '{LeasesKey}={value}': it must be true or false");
                return settings;
            case BucketKey when IsBucketName(value):
                return settings with { Bucket = value };
            case BucketKey:
                problems.Add($"has '{BucketKey}={value}': a key-value bucket name is made of letters, digits, '-' and '_'");
                return settings;
            case TimeToLiveKey when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && TimeSpan.FromMilliseconds(ms) >= ShortestTimeToLive:
                return settings with { TimeToLive = TimeSpan.FromMilliseconds(ms) };
            case TimeToLiveKey:
                problems.Add($"has '{TimeToLiveKey}={value}': it must be a number of milliseconds, at least {ShortestTimeToLive.TotalMilliseconds:0}");
                return settings;
            default:
                throw new ArgumentException($"'{key}' is not a lease key.", nameof(key));
        }
    }

    // JetStream's rule for key-value bucket names.
    private static bool IsBucketName(string value) =>
        value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
