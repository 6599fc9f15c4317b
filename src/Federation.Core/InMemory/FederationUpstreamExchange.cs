using System.Globalization;
using Federation.Core.Hops;
using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>
/// The federation plugin's <c>x-federation-upstream</c> exchange: a fanout that drops messages failing the hop and cycle
/// check for the link it serves. The link is described by the exchange's own arguments, as in the plugin's <c>route/3</c>.
/// </summary>
internal sealed class FederationUpstreamExchange : FanoutExchange
{
    private const int DefaultMaxHops = 1;

    private readonly int maxHops;
    private readonly string downstreamName;
    private readonly string downstreamVirtualHost;

    public FederationUpstreamExchange(ExchangeSpec spec) : base(spec)
    {
        var arguments = spec.Arguments;
        maxHops = arguments is not null && arguments.TryGetValue(HopHeaders.MaxHopsArgument, out var hops) && hops is IConvertible
            ? Convert.ToInt32(hops, CultureInfo.InvariantCulture)
            : DefaultMaxHops;
        downstreamName = StringArgument(arguments, HopHeaders.DownstreamNameArgument);
        downstreamVirtualHost = StringArgument(arguments, HopHeaders.DownstreamVhostArgument);
    }

    public override void Route(string routingKey, MessageProperties properties, RoutingTargets targets)
    {
        if (HopRules.Check(properties.Headers, maxHops, downstreamName, downstreamVirtualHost) == ForwardVerdict.Forward)
        {
            base.Route(routingKey, properties, targets);
        }
    }

    private static string StringArgument(IReadOnlyDictionary<string, object?>? arguments, string name) =>
        arguments is not null && arguments.TryGetValue(name, out var value) && value is string text ? text : string.Empty;
}
