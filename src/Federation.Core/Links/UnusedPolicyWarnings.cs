using Federation.Core.Diagnostics;
using Federation.Core.Model;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// Warns about a policy that applies to none of the downstream's exchanges while the downstream has exchanges of its own:
/// most often a typo in its pattern (<c>^federatd\.</c>), which otherwise shows only as a healthy host with fewer links.
/// The plugin says nothing in that case either; a configuration check cannot, since it does not know the exchanges.
/// </summary>
/// <remarks>
/// Once per policy and pattern while it applies to none: a policy that later applies (an exchange was declared) and
/// then to none again warns again. Only on a downstream that lists all its exchanges (<see
/// cref="TransportCapabilities.ServerSideTopology"/>): on core NATS an exchange is a subject prefix that appears with
/// interest, so a policy for subjects nobody subscribes yet is normal there. Not thread-safe: the supervisor's loop only.
/// </remarks>
internal sealed class UnusedPolicyWarnings(ILogger logger)
{
    private readonly HashSet<(string Name, string Pattern)> _warned = [];

    public void Check(FederationDefinitions definitions, IReadOnlyCollection<ExchangeSpec> exchanges, TransportCapabilities downstream)
    {
        if (!downstream.HasFlag(TransportCapabilities.ServerSideTopology))
        {
            return;
        }

        // The broker's own exchanges (amq.*, the default one) and the federation's are not what a policy is written for: a
        // downstream with only those is new, and its applications have not declared theirs yet.
        var own = exchanges.Count(e => e.Name.Length > 0 && !e.Internal && !e.Name.StartsWith("amq.", StringComparison.Ordinal)
            && !e.Name.StartsWith(FederationDefinitions.PresenceExchangePrefix, StringComparison.Ordinal));
        var unused = own == 0 ? [] : definitions.PoliciesApplyingToNone(exchanges);
        _warned.IntersectWith(unused);
        foreach (var policy in unused)
        {
            if (_warned.Add(policy))
            {
                Log.PolicyAppliesToNone(logger, PrintableText.Escape(policy.Name), PrintableText.Escape(policy.Pattern), own);
            }
        }
    }
}
