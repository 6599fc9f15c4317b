using System.Buffers;
using System.Globalization;
using System.Text;

namespace Federation.Core.Transport;

/// <summary>
/// Makes text from the wire safe to log or to put in an exception message: control characters, line and paragraph
/// separators, bidirectional formatting characters and lone surrogates become <c>\uXXXX</c> escapes, so a hostile subject
/// or request id cannot forge log lines (CR, LF, NEL, U+2028 in viewers that break lines on it) or make a line read other
/// than it is stored (bidi overrides, as in "Trojan Source"), and the text is cut to a bounded length.
/// </summary>
internal static class PrintableText
{
    /// <summary>Longest text kept, in characters, before the cut is marked with "...".</summary>
    public const int MaxLength = 512;

    // Every character that may need an escape; surrogates are in it so that lone ones are found (pairs are kept).
    private static readonly SearchValues<char> Suspect = SearchValues.Create(
        "\0\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000B\f\r\u000E\u000F\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F" +
        "\u007F\u0080\u0081\u0082\u0083\u0084\u0085\u0086\u0087\u0088\u0089\u008A\u008B\u008C\u008D\u008E\u008F\u0090\u0091\u0092\u0093\u0094\u0095\u0096\u0097\u0098\u0099\u009A\u009B\u009C\u009D\u009E\u009F" +
        "\u061C\u200E\u200F\u2028\u2029\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069");

    public static string Escape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var cut = text.Length > MaxLength;
        // Cut on a whole character: half a surrogate pair would be invalid text in a log.
        var kept = cut ? text.AsSpan(0, char.IsHighSurrogate(text[MaxLength - 1]) ? MaxLength - 1 : MaxLength) : text.AsSpan();
        if (!cut && !kept.ContainsAny(Suspect) && !kept.ContainsAnyInRange('\uD800', '\uDFFF'))
        {
            return text;
        }

        var builder = new StringBuilder(kept.Length + 16);
        var escaped = false;
        for (var i = 0; i < kept.Length; i++)
        {
            var c = kept[i];
            if (char.IsHighSurrogate(c) && i + 1 < kept.Length && char.IsLowSurrogate(kept[i + 1]))
            {
                builder.Append(c).Append(kept[++i]);
            }
            else if (char.IsSurrogate(c) || Suspect.Contains(c))
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
                escaped = true;
            }
            else
            {
                builder.Append(c);
            }
        }

        // Text with surrogate pairs only (emoji, say) comes out as it went in.
        return cut ? builder.Append("...").ToString() : escaped ? builder.ToString() : text;
    }
}
