using System.Globalization;
using System.Text;

namespace Federation.Core.Transport;

/// <summary>
/// Makes text from the wire safe to log or to put in an exception message: control characters become <c>\uXXXX</c> escapes, so a hostile subject or request id
/// with CR/LF cannot forge log lines, and the text is cut to a bounded length.
/// </summary>
internal static class PrintableText
{
    /// <summary>Longest text kept, in characters, before the cut is marked with "...".</summary>
    public const int MaxLength = 512;

    public static string Escape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var cut = text.Length > MaxLength;
        // Cut on a whole character: half a surrogate pair would be invalid text in a log.
        var kept = cut ? text.AsSpan(0, char.IsHighSurrogate(text[MaxLength - 1]) ? MaxLength - 1 : MaxLength) : text.AsSpan();
        if (!cut && !kept.ContainsAnyInRange('\0', '\u001F') && !kept.ContainsAnyInRange('\u007F', '\u009F'))
        {
            return text;
        }

        var builder = new StringBuilder(kept.Length + 16);
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
}
