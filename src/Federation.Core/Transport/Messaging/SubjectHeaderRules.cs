using System.Globalization;

namespace Federation.Core.Transport.Messaging;

/// <summary>
/// The header fields every subject transport accepts, whatever its wire can carry: the rules of NATS headers, the
/// narrowest of the three. A name is one or more printable ASCII characters other than <c>:</c> (no space, no control
/// character); a value has no CR or LF. So a message is portable between transports, and a bad field is refused before
/// anything is sent, with an <see cref="ArgumentException"/> naming it, instead of failing on the wire (where the NATS
/// client reports it as a broken connection) or being sent on one transport and refused on the next.
/// </summary>
public static class SubjectHeaderRules
{
    /// <summary>Checks every header field of <paramref name="message"/>.</summary>
    /// <param name="message">The message to publish.</param>
    /// <exception cref="ArgumentException">A field's name or value breaks the rules; the message names the field.</exception>
    public static void Validate(SubjectMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Headers is not { Count: > 0 } fields)
        {
            return;
        }

        for (var i = 0; i < fields.Count; i++)
        {
            var (name, value) = (fields[i].Key, fields[i].Value);
            if (string.IsNullOrEmpty(name))
            {
                throw new ArgumentException($"Header field {i} has an empty name.", nameof(message));
            }

            foreach (var c in name)
            {
                if (c <= ' ' || c == ':' || c >= '\u007F')
                {
                    throw new ArgumentException(
                        $"Header name '{Shown(name)}' has the character {Describe(c)}: a name is printable ASCII without ':' or spaces.", nameof(message));
                }
            }

            if (value is null)
            {
                throw new ArgumentException($"Header '{Shown(name)}' has a null value.", nameof(message));
            }

            if (value.AsSpan().IndexOfAny('\r', '\n') is var at and >= 0)
            {
                throw new ArgumentException($"The value of header '{Shown(name)}' has {Describe(value[at])} at {at}: a value is one line.", nameof(message));
            }
        }
    }

    // A hostile name must not forge lines in a log that prints the exception: control characters shown as escapes, cut short.
    private static string Shown(string text)
    {
        var kept = text.Length > 100 ? text[..100] + "..." : text;
        if (!kept.Any(char.IsControl))
        {
            return kept;
        }

        var shown = new System.Text.StringBuilder(kept.Length + 16);
        foreach (var c in kept)
        {
            _ = char.IsControl(c) ? shown.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}") : shown.Append(c);
        }

        return shown.ToString();
    }

    private static string Describe(char c) => char.IsControl(c) || c == ' '
        ? string.Create(CultureInfo.InvariantCulture, $"U+{(int)c:X4}")
        : string.Create(CultureInfo.InvariantCulture, $"'{c}'");
}
