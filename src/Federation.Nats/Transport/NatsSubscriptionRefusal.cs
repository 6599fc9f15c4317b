using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// Recognises the server's refusal of a subscription. nats-server answers a SUB the user may not make with
/// <c>-ERR 'Permissions Violation for Subscription to "SUBJECT"'</c> (and <c>using queue "GROUP"</c> for a queue
/// subscription) and keeps the connection open; the client only logs it and raises <see cref="NatsConnection.ServerError"/>,
/// and its subscription object stays as if active. Without this, whatever relies on the subscription would look healthy
/// while it receives nothing.
/// </summary>
internal static class NatsSubscriptionRefusal
{
    private const string Prefix = "Permissions Violation for Subscription to ";

    /// <summary>True when <paramref name="error"/> is a refused subscription; <paramref name="subject"/> is its subject (as the server quoted it).</summary>
    public static bool TryParse(NatsServerErrorEventArgs error, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? subject)
    {
        subject = null;
        if (error.Kind != NatsServerErrorKind.PermissionsViolation || !error.Error.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        // The server quotes the subject with Go's %q; a subject has no quote or space, so the first quoted run is it.
        var rest = error.Error.AsSpan(Prefix.Length);
        if (rest.Length > 1 && rest[0] == '"' && rest[1..].IndexOf('"') is var end and >= 0)
        {
            subject = rest.Slice(1, end).ToString();
        }
        else
        {
            subject = rest.ToString();
        }

        return true;
    }

    /// <summary>The message of the exception that fails what the subscription was for.</summary>
    public static string Describe(string subject, string displayUri) =>
        $"The NATS server {displayUri} refused the subscription to '{subject}' (permissions violation: the user may not subscribe to this subject); nothing would be received on it";
}
