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
        if (FindViolation(message) is { } violation)
        {
            throw new ArgumentException(violation, nameof(message));
        }
    }

    /// <summary>
    /// What is wrong with the first bad header field of <paramref name="message"/> (naming it, control characters escaped),
    /// or null when every field is fine. For a relay, which drops such a message it received instead of failing to send it.
    /// </summary>
    /// <param name="message">The message to check.</param>
    /// <returns>The reason, or null.</returns>
    public static string? FindViolation(SubjectMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Headers is not { Count: > 0 } fields)
        {
            return null;
        }

        for (var i = 0; i < fields.Count; i++)
        {
            var (name, value) = (fields[i].Key, fields[i].Value);
            if (string.IsNullOrEmpty(name))
            {
                return $"Header field {i} has an empty name.";
            }

            foreach (var c in name)
            {
                if (c <= ' ' || c == ':' || c >= '\u007F')
                {
                    return $"Header name '{Shown(name)}' has the character {Describe(c)}: a name is printable ASCII without ':' or spaces.";
                }
            }

            if (value is null)
            {
                return $"Header '{Shown(name)}' has a null value.";
            }

            if (value.AsSpan().IndexOfAny('\r', '\n') is var at and >= 0)
            {
                return $"The value of header '{Shown(name)}' has {Describe(value[at])} at {at}: a value is one line.";
            }
        }

        return null;
    }

    // A hostile name must not forge lines in a log that prints the exception.
    private static string Shown(string text) => PrintableText.Escape(text);

    // Anything but printable ASCII by its code point: a line separator or a bidi override shown as itself would act in the log.
    private static string Describe(char c) => c <= ' ' || c >= '\u007F'
        ? string.Create(CultureInfo.InvariantCulture, $"U+{(int)c:X4}")
        : string.Create(CultureInfo.InvariantCulture, $"'{c}'");
}
