using Federation.Core.Hops;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Hops;

/// <summary>Builders for messages and bindings that have crossed some links.</summary>
internal static class Trails
{
    public static ReceivedFromEntry Hop(string clusterName, string virtualHost = "/") =>
        new($"amqp://{clusterName}/{Uri.EscapeDataString(virtualHost)}", "x", Redelivered: false, clusterName, virtualHost);

    /// <summary>Properties of a message that left <paramref name="hops"/> in order (oldest first), as the links would record it.</summary>
    public static MessageProperties MessageThatLeft(params ReceivedFromEntry[] hops)
    {
        var properties = new MessageProperties();
        foreach (var hop in hops)
        {
            properties.Headers = HopRules.PrependReceivedFrom(properties.Headers, hop);
        }

        return properties;
    }

    public static Dictionary<string, object?> Table(params (string Key, object? Value)[] fields)
    {
        var table = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in fields)
        {
            table[key] = value;
        }

        return table;
    }

    public static Dictionary<string, object?> Headers(object? receivedFrom) =>
        Table((HopHeaders.ReceivedFrom, receivedFrom));
}
