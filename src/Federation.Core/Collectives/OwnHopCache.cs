namespace Federation.Core.Collectives;

/// <summary>
/// The formatted seen-by hop a broker instance appends for one direction. The servers change only on a reconnect, so the
/// JSON is written once per server pair instead of once per message (it was a JSON writer and a buffer per message).
/// Thread-safe: the cached pair is replaced as a whole.
/// </summary>
internal sealed class OwnHopCache(string processor)
{
    private Entry? _last;

    /// <summary>The hop <c>[in, processor, out]</c> as its header value.</summary>
    public string Format(string inServer, string outServer)
    {
        var last = Volatile.Read(ref _last);
        if (last is not null && string.Equals(last.In, inServer, StringComparison.Ordinal) && string.Equals(last.Out, outServer, StringComparison.Ordinal))
        {
            return last.Formatted;
        }

        var formatted = new SeenByHop(inServer, processor, outServer).Format();
        Volatile.Write(ref _last, new Entry(inServer, outServer, formatted));
        return formatted;
    }

    private sealed record Entry(string In, string Out, string Formatted);
}
