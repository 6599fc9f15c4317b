using Federation.Core.Collectives.Choria;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Collectives;

/// <summary>Picks the relay for a cluster's <see cref="FederationBrokerOptions.Envelope"/>.</summary>
internal static class BrokerRelays
{
    public static IBrokerRelay Create(FederationBrokerOptions options, string instance, FederationBrokerSubjects subjects, BrokerMetrics metrics, ILogger logger, TimeProvider time)
    {
        var cluster = options.ClusterName!;
        var guard = new SubjectGuard(options);
        return options.Envelope switch
        {
            FederationEnvelopeFormat.ChoriaV1 => new ChoriaMessageRelay(ChoriaProtocolVersion.V1, cluster, instance, subjects, options.MaxHops, options.MaxTargets, guard, metrics, logger, time),
            FederationEnvelopeFormat.ChoriaV2 => new ChoriaMessageRelay(ChoriaProtocolVersion.V2, cluster, instance, subjects, options.MaxHops, options.MaxTargets, guard, metrics, logger, time),
            FederationEnvelopeFormat.Choria => new ChoriaMessageRelay(accepted: null, cluster, instance, subjects, options.MaxHops, options.MaxTargets, guard, metrics, logger, time),
            _ => new MessageRelay(cluster, instance, subjects, options.MaxHops, options.MaxTargets, guard, metrics, logger, time),
        };
    }
}
