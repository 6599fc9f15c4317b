using System.Globalization;
using System.Text;

namespace Federation.Amqp;

/// <summary>
/// Text from a message (a header name, a routing key) made safe for a log line or an exception message: control
/// characters, line and paragraph separators, bidirectional formatting characters and lone surrogates become
/// <c>\uXXXX</c> escapes, so CR/LF (or U+2028, or a bidi override) in it cannot forge or disguise log lines, and it is cut
/// to a bounded length.
/// </summary>
internal static class PrintableWireText
{
    /// <summary>Longest text kept, in characters, before the cut is marked with "...".</summary>
    public const int MaxLength = 128;

    public static string Escape(string text)
    {
        var cut = text.Length > MaxLength;
        // Cut on a whole character: half a surrogate pair would be invalid text in a log.
        var kept = cut ? text[..(char.IsHighSurrogate(text[MaxLength - 1]) ? MaxLength - 1 : MaxLength)] : text;
        var builder = new StringBuilder(kept.Length + 8);
        for (var i = 0; i < kept.Length; i++)
        {
            var c = kept[i];
            if (char.IsHighSurrogate(c) && i + 1 < kept.Length && char.IsLowSurrogate(kept[i + 1]))
            {
                builder.Append(c).Append(kept[++i]);
            }
            else if (char.IsControl(c) || char.IsSurrogate(c) || IsLineOrBidiFormat(c))
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

    /// <summary>U+2028, U+2029, and the characters that change the direction text is shown in.</summary>
    private static bool IsLineOrBidiFormat(char c) =>
        c is '\u2028' or '\u2029' or '\u061C' or '\u200E' or '\u200F' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069');

    /// <summary>Bytes decoded as UTF-8 (U+FFFD for what is not), then escaped: for display only.</summary>
    public static string Escape(ReadOnlySpan<byte> utf8) => Escape(Encoding.UTF8.GetString(utf8));
}
