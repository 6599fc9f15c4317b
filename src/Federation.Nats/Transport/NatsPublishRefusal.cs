using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// Recognises the server's refusal of a publish. nats-server answers a PUB to a subject the user may not publish to with
/// <c>-ERR 'Permissions Violation for Publish to "SUBJECT"'</c>, drops the message and keeps the connection open; the
/// client only logs it and raises <see cref="NatsConnection.ServerError"/>, and a publish confirm (PING/PONG) still
/// succeeds. Without this, a link whose downstream user lacks publish permission would count every such message as
/// forwarded while the server threw it away.
/// </summary>
internal static class NatsPublishRefusal
{
    private const string Prefix = "Permissions Violation for Publish to ";

    /// <summary>True when <paramref name="error"/> is a refused publish; <paramref name="subject"/> is its subject (as the server quoted it).</summary>
    public static bool TryParse(NatsServerErrorEventArgs error, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? subject)
    {
        subject = null;
        if (error.Kind != NatsServerErrorKind.PermissionsViolation || !error.Error.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        // The server quotes the subject with Go's %q; a subject has no quote or space, so the first quoted run is it.
        var rest = error.Error.AsSpan(Prefix.Length);
        subject = rest.Length > 1 && rest[0] == '"' && rest[1..].IndexOf('"') is var end and >= 0 ? rest.Slice(1, end).ToString() : rest.ToString();
        return true;
    }

    /// <summary>The cause a link counts the dropped message with.</summary>
    public static string Describe(string subject, string displayUri) =>
        $"the NATS server {displayUri} refused publishing to '{subject}' (permissions violation: the user may not publish to this subject) and dropped the message";
}
