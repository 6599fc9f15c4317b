namespace Federation.Core.Hops;

public static partial class HopRules
{
    /// <summary>
    /// Prepends <paramref name="entry"/> to the <c>x-received-from</c> trail in <paramref name="headers"/>, creating the
    /// header table when there is none. The new trail is a new list (an existing one may be shared by other copies of the
    /// message and is left untouched); a malformed existing value is replaced and moved into <c>x-invalid-headers</c>, as
    /// the plugin does.
    /// </summary>
    /// <param name="headers">The headers of the message about to be republished downstream, changed in place; or
    /// <see langword="null"/> when it has none yet.</param>
    /// <param name="entry">The upstream the message is leaving.</param>
    /// <returns><paramref name="headers"/>, or the new table when it was <see langword="null"/>: store it back on the message.</returns>
    public static Dictionary<string, object?> PrependReceivedFrom(Dictionary<string, object?>? headers, ReceivedFromEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);

        headers ??= new Dictionary<string, object?>(StringComparer.Ordinal);
        TableHeader.Prepend(headers, HopHeaders.ReceivedFrom, ToTable(entry));
        return headers;
    }

    /// <summary>
    /// Prepends a trail entry built once by <see cref="SharedReceivedFrom"/> and shared by every message of one link session;
    /// a message without a trail gets the entry's shared one-element trail. Returns the headers as
    /// <see cref="PrependReceivedFrom"/> does, and writes the same values.
    /// </summary>
    internal static Dictionary<string, object?> PrependSharedReceivedFrom(Dictionary<string, object?>? headers, SharedTrailEntry entry)
    {
        headers ??= new Dictionary<string, object?>(StringComparer.Ordinal);
        if (!headers.TryAdd(HopHeaders.ReceivedFrom, entry.SoleTrail))
        {
            TableHeader.Prepend(headers, HopHeaders.ReceivedFrom, entry.Table);
        }

        return headers;
    }

    /// <summary>The trail entry of <paramref name="entry"/>, as <see cref="PrependReceivedFrom"/> writes it, to share.</summary>
    internal static SharedTrailEntry SharedReceivedFrom(ReceivedFromEntry entry) => new(ToTable(entry));

    /// <summary>
    /// Reads the <c>x-received-from</c> trail, newest first, for diagnostics. Elements that are not tables, or lack a text
    /// <c>uri</c>, <c>exchange</c> or <c>vhost</c>, or have a <c>redelivered</c> that is not a boolean or a
    /// <c>cluster-name</c> that is not text, are skipped. A missing <c>redelivered</c> reads as <see langword="false"/>
    /// and a missing <c>cluster-name</c> as <see langword="null"/> (upstreams older than RabbitMQ 3.3 omit it).
    /// </summary>
    /// <param name="headers">The message headers, or <see langword="null"/> when it has none.</param>
    /// <returns>The well-formed entries; empty when the header is missing or not an array.</returns>
    public static IReadOnlyList<ReceivedFromEntry> ReadReceivedFrom(IReadOnlyDictionary<string, object?>? headers)
    {
        if (headers is null
            || !headers.TryGetValue(HopHeaders.ReceivedFrom, out var trail)
            || !HeaderValueReader.TryGetArrayCount(trail, out var length)
            || length == 0)
        {
            return [];
        }

        var entries = new List<ReceivedFromEntry>(length);
        for (var i = 0; i < length; i++)
        {
            if (TryReadEntry(HeaderValueReader.ElementAt(trail, i), out var entry))
            {
                entries.Add(entry);
            }
        }

        return entries;
    }

    /// <summary>
    /// Whether the newest <c>x-received-from</c> entry, the hop that brought the message to where it is being published,
    /// says the upstream flagged the delivery as redelivered: it may have been delivered before, so a downstream that
    /// already holds a message with its identity most likely holds this very message. Allocation-free, for a publish path.
    /// </summary>
    /// <param name="headers">The message headers, or <see langword="null"/> when it has none.</param>
    /// <returns><see langword="false"/> when there is no trail, or its newest entry is not a table with <c>redelivered</c> true.</returns>
    public static bool NewestHopRedelivered(IReadOnlyDictionary<string, object?>? headers) =>
        headers is not null
        && headers.TryGetValue(HopHeaders.ReceivedFrom, out var trail)
        && HeaderValueReader.TryGetArrayCount(trail, out var length)
        && length > 0
        && HeaderValueReader.TryGetField(HeaderValueReader.ElementAt(trail, 0), TrailFieldNames.Redelivered, out var redelivered)
        && redelivered is true;

    // Field order is the plugin's; Dictionary enumerates in insertion order as long as nothing is removed,
    // which is what transports rely on when they encode the table.
    private static Dictionary<string, object?> ToTable(ReceivedFromEntry entry)
    {
        var table = new Dictionary<string, object?>(5, StringComparer.Ordinal)
        {
            [TrailFieldNames.Uri] = entry.Uri,
            [TrailFieldNames.Exchange] = entry.Exchange,
            [TrailFieldNames.Redelivered] = entry.Redelivered,
        };
        if (entry.ClusterName is not null)
        {
            table[TrailFieldNames.ClusterName] = entry.ClusterName;
        }

        table[TrailFieldNames.VirtualHost] = entry.VirtualHost;
        return table;
    }

    private static bool TryReadEntry(object? element, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ReceivedFromEntry? entry)
    {
        entry = null;
        if (!HeaderValueReader.TryGetField(element, TrailFieldNames.Uri, out var uriValue) || !HeaderValueReader.TryGetText(uriValue, out var uri)
            || !HeaderValueReader.TryGetField(element, TrailFieldNames.Exchange, out var exchangeValue) || !HeaderValueReader.TryGetText(exchangeValue, out var exchange)
            || !HeaderValueReader.TryGetField(element, TrailFieldNames.VirtualHost, out var vhostValue) || !HeaderValueReader.TryGetText(vhostValue, out var vhost))
        {
            return false;
        }

        var redelivered = false;
        if (HeaderValueReader.TryGetField(element, TrailFieldNames.Redelivered, out var redeliveredValue))
        {
            if (redeliveredValue is not bool flag)
            {
                return false;
            }

            redelivered = flag;
        }

        string? clusterName = null;
        if (HeaderValueReader.TryGetField(element, TrailFieldNames.ClusterName, out var clusterValue)
            && !HeaderValueReader.TryGetText(clusterValue, out clusterName))
        {
            return false;
        }

        entry = new ReceivedFromEntry(uri, exchange, redelivered, clusterName, vhost);
        return true;
    }
}
