using BenchmarkDotNet.Attributes;
using Federation.Core.Hops;
using Federation.Core.Transport;

namespace Federation.Benchmarks;

/// <summary>
/// The per-message cost of the hop rules on a link, against the properties copy that every forward makes anyway.
/// </summary>
[MemoryDiagnoser]
public class HopRulesBenchmarks
{
    private const string DownstreamCluster = "downstream";
    private const string DownstreamVhost = "/";

    private static readonly ReceivedFromEntry Upstream = new("amqp://upstream:5672/%2F", "orders", false, "upstream", "/");

    private readonly MessageProperties noTrail = WithHeaders(0);
    private readonly MessageProperties oneHopTrail = WithHeaders(1);
    private readonly MessageProperties fiveHopTrail = WithHeaders(5);

    [Benchmark(Baseline = true, Description = "Clone (every forward copies the properties)")]
    public MessageProperties Clone() => oneHopTrail.Clone();

    [Benchmark(Description = "Check, no header")]
    public ForwardVerdict CheckNoTrail() => HopRules.Check(noTrail.Headers, 2, DownstreamCluster, DownstreamVhost);

    [Benchmark(Description = "Check, 1-entry trail")]
    public ForwardVerdict CheckOneHop() => HopRules.Check(oneHopTrail.Headers, 2, DownstreamCluster, DownstreamVhost);

    [Benchmark(Description = "Check, 5-entry trail")]
    public ForwardVerdict CheckFiveHops() => HopRules.Check(fiveHopTrail.Headers, 6, DownstreamCluster, DownstreamVhost);

    [Benchmark(Description = "Forward: Clone + Check + Prepend, 1-entry trail")]
    public MessageProperties Forward()
    {
        var copy = oneHopTrail.Clone();
        if (HopRules.Check(copy.Headers, 2, DownstreamCluster, DownstreamVhost) == ForwardVerdict.Forward)
        {
            copy.Headers = HopRules.PrependReceivedFrom(copy.Headers, Upstream);
        }

        return copy;
    }

    // Headers as a message carries them after crossing hopCount links, plus one application header.
    private static MessageProperties WithHeaders(int hopCount)
    {
        var properties = new MessageProperties
        {
            ContentType = "application/json",
            Headers = new Dictionary<string, object?>(StringComparer.Ordinal) { ["tenant"] = "acme" },
        };
        for (var i = 0; i < hopCount; i++)
        {
            properties.Headers = HopRules.PrependReceivedFrom(properties.Headers, Upstream with { ClusterName = $"cluster-{i}" });
        }

        return properties;
    }
}
