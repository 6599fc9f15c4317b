using System.Text;

namespace Federation.Core.Links.Ownership;

/// <summary>
/// What an instance says on the presence exchange: that it is alive, or that it leaves (a clean stop), with its name and
/// incarnation. Three lines of UTF-8 text, so that an operator can read them with any client.
/// </summary>
internal sealed record PresenceMessage(bool Leaving, string Instance, string Incarnation)
{
    private const string AliveWord = "alive";
    private const string LeavingWord = "leaving";

    public byte[] Encode() => Encoding.UTF8.GetBytes($"{(Leaving ? LeavingWord : AliveWord)}\n{Incarnation}\n{Instance}");

    /// <summary>Reads a message, or null for anything else (which is ignored: the exchange is open to any client).</summary>
    public static PresenceMessage? Decode(ReadOnlySpan<byte> body)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(body);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }

        var parts = text.Split('\n', 3);
        return parts.Length == 3 && parts[0] is AliveWord or LeavingWord && parts[1].Length > 0 && parts[2].Length > 0
            ? new PresenceMessage(parts[0] == LeavingWord, parts[2], parts[1])
            : null;
    }
}
