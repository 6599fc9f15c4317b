using System.Text.Json.Serialization;
using FederationHost.Metrics;

namespace FederationHost.Endpoints;

/// <summary>
/// The messages one link (an exchange and an upstream) has forwarded and dropped since the host started, as
/// <c>GET /federation/links/traffic</c> returns them. The status page turns two successive readings into rates. Built
/// from the metric tags only (exchange and upstream names), so it holds no credentials.
/// </summary>
public sealed record LinkTraffic(
    [property: JsonPropertyName("exchange")] string Exchange,
    [property: JsonPropertyName("upstream")] string Upstream,
    [property: JsonPropertyName("forwarded")] double Forwarded,
    [property: JsonPropertyName("dropped")] double Dropped)
{
    private const string ForwardedInstrument = "federation.link.messages.forwarded";
    private const string DroppedInstrument = "federation.link.messages.dropped";
    private const string ExchangeTag = "federation.exchange";
    private const string UpstreamTag = "federation.upstream";

    /// <summary>
    /// Sums the forwarded and dropped counters per exchange and upstream (drops of every reason together), in a stable
    /// order. A link that has neither forwarded nor dropped anything yet has no entry.
    /// </summary>
    public static IReadOnlyList<LinkTraffic> From(IEnumerable<InstrumentSnapshot> instruments)
    {
        ArgumentNullException.ThrowIfNull(instruments);
        var totals = new Dictionary<(string Exchange, string Upstream), (double Forwarded, double Dropped)>();
        foreach (var instrument in instruments)
        {
            var forwarded = instrument.Name == ForwardedInstrument;
            if (!forwarded && instrument.Name != DroppedInstrument)
            {
                continue;
            }

            foreach (var point in instrument.Points)
            {
                if (Tag(point, ExchangeTag) is not { } exchange || Tag(point, UpstreamTag) is not { } upstream)
                {
                    continue;
                }

                var key = (exchange, upstream);
                var total = totals.GetValueOrDefault(key);
                totals[key] = forwarded ? (total.Forwarded + point.Value, total.Dropped) : (total.Forwarded, total.Dropped + point.Value);
            }
        }

        return [.. totals
            .OrderBy(t => t.Key.Exchange, StringComparer.Ordinal)
            .ThenBy(t => t.Key.Upstream, StringComparer.Ordinal)
            .Select(t => new LinkTraffic(t.Key.Exchange, t.Key.Upstream, t.Value.Forwarded, t.Value.Dropped))];
    }

    private static string? Tag(MetricPoint point, string key)
    {
        foreach (var tag in point.Tags)
        {
            if (tag.Key == key)
            {
                return tag.Value;
            }
        }

        return null;
    }
}
