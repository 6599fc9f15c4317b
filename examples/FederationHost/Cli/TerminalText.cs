using System.Text;

namespace FederationHost.Cli;

/// <summary>
/// Makes text from a broker or a settings file safe to print on an operator's terminal. Names come from whoever may declare
/// an exchange (RabbitMQ keeps an ESC in a name), and errors quote them: printed raw, an escape sequence would recolour,
/// retitle or rewrite the operator's screen. Every control character (C0, DEL and C1) is shown as <c>\xHH</c> instead,
/// and every bidirectional formatting character as <c>\uHHHH</c>: a right-to-left override in a name reorders what
/// follows it on the line, so an exchange could show as another ("Trojan Source", CVE-2021-42574).
/// </summary>
public static class TerminalText
{
    /// <summary>
    /// <paramref name="text"/> with every control character written as <c>\xHH</c> (ESC as <c>\x1B</c>). Backslashes are
    /// left alone: a Windows path in a message must stay readable, and nothing a terminal acts on starts with one.
    /// </summary>
    /// <param name="text">The text to print.</param>
    /// <param name="keepLineBreaks">Leave CR, LF and tab as they are (for a multi-line text such as an exception dump).</param>
    public static string Escape(string text, bool keepLineBreaks = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var first = FirstToEscape(text, keepLineBreaks);
        if (first < 0)
        {
            return text;
        }

        var escaped = new StringBuilder(text.Length + 8).Append(text, 0, first);
        for (var i = first; i < text.Length; i++)
        {
            var c = text[i];
            if (IsBidiControl(c))
            {
                escaped.Append(@"\u").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
            }
            else if (MustEscape(c, keepLineBreaks))
            {
                escaped.Append(@"\x").Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                escaped.Append(c);
            }
        }

        return escaped.ToString();
    }

    private static int FirstToEscape(string text, bool keepLineBreaks)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (MustEscape(text[i], keepLineBreaks))
            {
                return i;
            }
        }

        return -1;
    }

    // char.IsControl is exactly C0, DEL and C1 (U+0000-001F, U+007F-009F).
    private static bool MustEscape(char c, bool keepLineBreaks) =>
        (char.IsControl(c) && !(keepLineBreaks && c is '\r' or '\n' or '\t')) || IsBidiControl(c);

    // The Unicode bidirectional formatting characters: ALM, LRM, RLM, the embeddings and overrides, and the isolates.
    private static bool IsBidiControl(char c) =>
        c is '\u061C' or '\u200E' or '\u200F' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069');
}
