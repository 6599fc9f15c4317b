namespace Federation.Core.Transport;

/// <summary>
/// Removes a connection's own user name and password from text a broker or client library wrote, such as RabbitMQ's
/// <c>access to queue 'q' in vhost '/' refused for user 'alice'</c>, before the text reaches status, health, logs or
/// exceptions; URIs in it are redacted as <see cref="UriRedaction.RedactText(string)"/> does.
/// </summary>
/// <remarks>
/// A credential of eight characters or more is removed wherever it occurs: found inside other text, it is an echo, and an
/// accidental match is improbable. A shorter one is removed only where it stands as a word of its own (no letter or
/// digit right before or after it): removing every <c>o</c> from <c>vhost not found</c> would mangle the message and,
/// worse, show which letters the password is made of.
/// </remarks>
public static class CredentialRedaction
{
    private const string Redacted = "<redacted>";
    private const int AnywhereFromLength = 8;

    /// <summary>
    /// Returns <paramref name="text"/> with <paramref name="userName"/> and <paramref name="password"/> (either may be
    /// null or empty) and the user information of every URI replaced by <c>&lt;redacted&gt;</c>. Never throws.
    /// </summary>
    /// <param name="text">Text from a broker or a client library; null gives an empty string.</param>
    /// <param name="userName">The connection's user name, or null.</param>
    /// <param name="password">The connection's password, or null.</param>
    /// <returns>The redacted text.</returns>
    public static string Redact(string? text, string? userName, string? password)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        // The longer first, so that a user name contained in the password does not leave the rest of the password behind.
        var (first, second) = (password?.Length ?? 0) >= (userName?.Length ?? 0) ? (password, userName) : (userName, password);
        return UriRedaction.RedactText(Remove(Remove(text, first), second));
    }

    private static string Remove(string text, string? secret)
    {
        if (string.IsNullOrEmpty(secret))
        {
            return text;
        }

        var anywhere = secret.Length >= AnywhereFromLength;
        var found = text.IndexOf(secret, StringComparison.Ordinal);
        if (found < 0)
        {
            return text;
        }

        var builder = new System.Text.StringBuilder(text.Length);
        var copied = 0;
        while (found >= 0)
        {
            var end = found + secret.Length;
            if (anywhere || (!IsWordCharacter(text, found - 1) && !IsWordCharacter(text, end)))
            {
                builder.Append(text, copied, found - copied).Append(Redacted);
                copied = end;
                found = end < text.Length ? text.IndexOf(secret, end, StringComparison.Ordinal) : -1;
            }
            else
            {
                found = found + 1 < text.Length ? text.IndexOf(secret, found + 1, StringComparison.Ordinal) : -1;
            }
        }

        return builder.Append(text, copied, text.Length - copied).ToString();
    }

    private static bool IsWordCharacter(string text, int index) =>
        index >= 0 && index < text.Length && char.IsLetterOrDigit(text[index]);
}
