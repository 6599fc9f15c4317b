using Federation.Core.Transport;

namespace Federation.Core.Diagnostics;

/// <summary>
/// Stands in for an exception whose text (messages and stack traces, inner exceptions included) names a URI with credentials,
/// for example a client library echoing the URI it was given. It carries the same text with every URI redacted, so a log
/// sink that writes <see cref="Exception.ToString"/> or <see cref="Exception.Message"/> never sees the secret.
/// </summary>
internal sealed class RedactedException : Exception
{
    private readonly string _text;

    public RedactedException()
    {
        _text = base.ToString();
    }

    public RedactedException(string message)
        : base(UriRedaction.RedactText(message))
    {
        _text = base.ToString();
    }

    public RedactedException(string message, Exception innerException)
        : base(UriRedaction.RedactText(message), innerException is null ? null : For(innerException))
    {
        _text = base.ToString();
    }

    private RedactedException(Exception original, string text)
        : base(UriRedaction.RedactText(original.Message))
    {
        _text = text;
        HResult = original.HResult;
    }

    /// <summary>
    /// Returns <paramref name="exception"/> itself when its text names no URI that needs redacting (so its type and
    /// properties reach the log unchanged), else a <see cref="RedactedException"/> with the redacted text.
    /// </summary>
    public static Exception For(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is RedactedException)
        {
            return exception;
        }

        var text = exception.ToString();
        var redacted = UriRedaction.RedactText(text);
        return string.Equals(text, redacted, StringComparison.Ordinal) ? exception : new RedactedException(exception, redacted);
    }

    /// <summary>The original's <see cref="Exception.ToString"/> (type, message, inner exceptions, stack traces), redacted.</summary>
    public override string ToString() => _text;
}
