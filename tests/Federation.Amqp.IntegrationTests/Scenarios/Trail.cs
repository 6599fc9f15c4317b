using System.Collections;
using System.Text;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>Reads hop-trail headers as a plain RabbitMQ.Client consumer receives them (strings arrive as UTF-8 byte arrays).</summary>
internal static class Trail
{
    /// <summary>One table of an array header, with its field names in wire order.</summary>
    public sealed class Entry(IDictionary<string, object?> table)
    {
        public IReadOnlyList<string> Fields { get; } = [.. table.Keys];

        public string Text(string field) => Encoding.UTF8.GetString(Assert.IsType<byte[]>(table[field]));

        public bool Flag(string field) => Assert.IsType<bool>(table[field]);
    }

    /// <summary>The <c>x-received-from</c> entries, newest first; empty when the message has none.</summary>
    public static IReadOnlyList<Entry> Read(IReadOnlyBasicProperties properties) => Read(properties, "x-received-from");

    /// <summary>The entries of an array-of-tables header; empty when the message has none.</summary>
    public static IReadOnlyList<Entry> Read(IReadOnlyBasicProperties properties, string header)
    {
        if (properties.Headers is null || !properties.Headers.TryGetValue(header, out var value) || value is null)
        {
            return [];
        }

        var array = Assert.IsAssignableFrom<IList>(value);
        return [.. array.Cast<object?>().Select(e => new Entry(Assert.IsAssignableFrom<IDictionary<string, object?>>(e)))];
    }

    /// <summary>A header's value as text, for headers that are long strings.</summary>
    public static string Text(object? value) => Encoding.UTF8.GetString(Assert.IsType<byte[]>(value));
}
