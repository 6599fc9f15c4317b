using System.Globalization;
using System.Text;

namespace Federation.Amqp;

/// <summary>
/// Text from a message (a header name, a routing key) made safe for a log line or an exception message: control
/// characters become <c>\uXXXX</c> escapes, so CR/LF in it cannot forge log lines, and it is cut to a bounded length.
/// </summary>
internal static class PrintableWireText
{
    /// <summary>Longest text kept, in characters, before the cut is marked with "...".</summary>
    public const int MaxLength = 128;

    public static string Escape(string text)
    {
        var cut = text.Length > MaxLength;
        var kept = cut ? text[..MaxLength] : text;
        var builder = new StringBuilder(kept.Length + 8);
        foreach (var c in kept)
        {
            if (char.IsControl(c))
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return cut ? builder.Append("...").ToString() : builder.ToString();
    }

    /// <summary>Bytes decoded as UTF-8 (U+FFFD for what is not), then escaped: for display only.</summary>
    public static string Escape(ReadOnlySpan<byte> utf8) => Escape(Encoding.UTF8.GetString(utf8));
}
