using System.Collections;
using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>
/// Deep copies of message properties. <see cref="MessageProperties.Clone"/> shares nested header values, but the federation
/// link prepends to the nested <c>x-received-from</c> list, so a copy shared between queues or with the publisher would leak.
/// </summary>
internal static class MessagePropertiesCopier
{
    public static MessageProperties DeepClone(MessageProperties properties)
    {
        var copy = properties.Clone();
        if (properties.Headers is { } headers)
        {
            foreach (var (name, value) in headers)
            {
                copy.Headers![name] = DeepCopy(value);
            }
        }

        return copy;
    }

    private static object? DeepCopy(object? value) => value switch
    {
        null or string => value,
        byte[] bytes => bytes.Clone(),
        IReadOnlyDictionary<string, object?> table => CopyTable(table),
        IDictionary<string, object?> table => CopyTable(table),
        IList list => CopyList(list),
        _ => value,
    };

    private static Dictionary<string, object?> CopyTable(IEnumerable<KeyValuePair<string, object?>> table)
    {
        var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in table)
        {
            copy[name] = DeepCopy(value);
        }

        return copy;
    }

    private static List<object?> CopyList(IList list)
    {
        var copy = new List<object?>(list.Count);
        foreach (var item in list)
        {
            copy.Add(DeepCopy(item));
        }

        return copy;
    }
}
