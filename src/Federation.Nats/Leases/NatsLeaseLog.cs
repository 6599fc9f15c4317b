using Microsoft.Extensions.Logging;

namespace Federation.Nats.Leases;

/// <summary>Log events of the NATS link leases (61xx).</summary>
internal static partial class NatsLeaseLog
{
    [LoggerMessage(6101, LogLevel.Warning, "NATS {Uri} offers no link leases, so links over it run without one and two hosts with the same configuration would both run them: {Reason}. Logged once per URI.")]
    public static partial void LeasesUnavailable(ILogger logger, string uri, string reason);

    [LoggerMessage(6102, LogLevel.Warning, "Lease '{Lease}' in bucket '{Bucket}' on {Uri} is lost: {Reason}")]
    public static partial void LeaseLost(ILogger logger, string lease, string bucket, string uri, string reason);

    [LoggerMessage(6103, LogLevel.Information, "Lease '{Lease}' in bucket '{Bucket}' on {Uri}: its holder '{Holder}' has no live connection on the server; taken over")]
    public static partial void LeaseTakenFromDeadHolder(ILogger logger, string lease, string bucket, string uri, string holder);

    [LoggerMessage(6104, LogLevel.Warning, "Lease bucket '{Bucket}' on {Uri} exists with max age {Existing}, not the configured lease-ttl-ms {Configured}; the bucket's max age is the lease time-to-live")]
    public static partial void BucketTimeToLiveDiffers(ILogger logger, string bucket, string uri, TimeSpan existing, TimeSpan configured);

    [LoggerMessage(6105, LogLevel.Warning, "Lease bucket '{Bucket}' on {Uri} was missing (its stream 'KV_{Bucket}' deleted?): a lease write got no answer ({Failure}); the bucket was created again with the configured settings and the lease is taken anew")]
    public static partial void BucketRecreated(ILogger logger, string bucket, string uri, string failure);
}
