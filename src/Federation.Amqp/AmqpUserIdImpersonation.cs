using System.Globalization;
using System.Text.RegularExpressions;
using Federation.Core.Transport;
using RabbitMQ.Client.Events;

namespace Federation.Amqp;

/// <summary>
/// RabbitMQ's check of the <c>user_id</c> property: a message may claim only the publishing connection's own user, unless
/// that user has the <c>impersonator</c> tag. Otherwise the broker closes the publishing channel
/// (<c>406 PRECONDITION_FAILED - user_id property set to 'alice' but authenticated user was 'bob'</c>), failing everything
/// in flight on it. With <c>trust-user-id</c> a link forwards the upstream publisher's <c>user_id</c>, so a downstream user
/// without the tag made the link fail over such a message, and the upstream redelivered it first at every restart: nothing
/// behind it ever crossed.
/// </summary>
/// <remarks>
/// Whether the user may impersonate is not announced on the connection, and the management API may be unreachable or
/// log in as someone else (EXTERNAL), so the broker is asked before the first message claiming another user is written
/// (<see cref="AmqpImpersonationProbe"/>), and a refusal is kept on the connection
/// (<see cref="AmqpConnection.NonImpersonatingUser"/>): from then on a message claiming another user is refused before it
/// is written, and the channel and the messages around it are unharmed. When the probe cannot tell, such a message is
/// written, and the broker's refusal teaches the same: it is mapped to a <see cref="MessageRefusedException"/> for the
/// message that caused it, so a link rejects that one upstream and goes on.
/// RabbitMQ reads the user's tags when the connection opens and keeps them for its life, so what was learned lives as long
/// as the connection: a tag granted later takes effect when the downstream connection is opened again, and so does the
/// forwarding of such messages.
/// </remarks>
internal static partial class AmqpUserIdImpersonation
{
    /// <summary>The drop reason of a message whose user_id the broker refused (or would refuse).</summary>
    internal const string RefusedDropReason = "downstream_rejected";

    /// <summary>The drop reason of messages written without confirms behind a refused one, which the closed channel dropped.</summary>
    internal const string LostBehindDropReason = "unconfirmed";

    private const ushort PreconditionFailed = 406;
    private const string RefusalStart = "PRECONDITION_FAILED - user_id property set to '";

    /// <summary>What the operator can do about it; in every refusal, so the warning that opens a loss episode shows it.</summary>
    private const string Hint =
        "With trust-user-id, the downstream user needs RabbitMQ's 'impersonator' tag to forward user_id; after granting it, " +
        "reopen the downstream connection (close it on the broker, or restart the host), which reads the user's tags when it opens.";

    /// <summary>Whether a channel close refused a message's <c>user_id</c>, and as whom the broker authenticated the connection.</summary>
    /// <param name="reason">Why the channel closed; null when it has not.</param>
    /// <param name="connectionUser">The user the connection logged in as, when the client knows it (PLAIN); null when the
    /// broker chose it (EXTERNAL: the certificate's name), which is then read from the broker's text.</param>
    /// <param name="authenticatedUser">The connection's user: the only <c>user_id</c> the broker takes from it.</param>
    public static bool TryReadRefusal(ShutdownEventArgs? reason, string? connectionUser, out string authenticatedUser)
    {
        authenticatedUser = string.Empty;
        if (reason is not { ReplyCode: PreconditionFailed, ReplyText: { } text }
            || !text.StartsWith(RefusalStart, StringComparison.Ordinal))
        {
            return false;
        }

        if (connectionUser is not null)
        {
            // The broker's reply text is a short string (at most 255 bytes), which long names can cut short: the client's
            // own knowledge does not depend on it.
            authenticatedUser = connectionUser;
            return true;
        }

        var match = RefusalText().Match(text);
        if (!match.Success)
        {
            return false;
        }

        authenticatedUser = match.Groups["actual"].Value;
        return true;
    }

    /// <summary>Whether the broker refuses <paramref name="userId"/> on a connection of <paramref name="nonImpersonatingUser"/> (null: not known to refuse any).</summary>
    public static bool Refuses(string? userId, string? nonImpersonatingUser) =>
        userId is not null && nonImpersonatingUser is not null && !string.Equals(userId, nonImpersonatingUser, StringComparison.Ordinal);

    /// <summary>
    /// Throws <see cref="MessageRefusedException"/> when the message's <paramref name="userId"/> is one the connection's
    /// user was found not to be allowed to claim.
    /// </summary>
    /// <param name="userId">The message's <c>user_id</c>.</param>
    /// <param name="nonImpersonatingUser">The connection's user when a refusal showed that it may not impersonate, else null.</param>
    /// <param name="exchange">The target exchange, for the message.</param>
    /// <param name="routingKey">The routing key, for the message.</param>
    /// <param name="index">Which message of a unit it is.</param>
    public static void Check(string? userId, string? nonImpersonatingUser, string exchange, string routingKey, int index = 0)
    {
        if (Refuses(userId, nonImpersonatingUser))
        {
            throw Refused(userId!, exchange, routingKey, index, refusedByBroker: false);
        }
    }

    /// <summary>The refusal of one message whose <c>user_id</c> the connection's user may not claim.</summary>
    /// <param name="userId">The message's <c>user_id</c>.</param>
    /// <param name="exchange">The target exchange.</param>
    /// <param name="routingKey">The routing key.</param>
    /// <param name="index">Which message of a unit it is.</param>
    /// <param name="refusedByBroker">Whether the broker refused it (it was written), or it was refused before writing.</param>
    public static MessageRefusedException Refused(string userId, string exchange, string routingKey, int index, bool refusedByBroker) =>
        new(string.Format(CultureInfo.InvariantCulture,
                refusedByBroker
                    ? "The broker refused the message to exchange '{0}' with routing key '{1}': its user_id '{2}' is not the downstream connection's user, who may not publish as another user (406 PRECONDITION_FAILED). {3}"
                    : "The message to exchange '{0}' with routing key '{1}' has user_id '{2}', which the downstream connection's user may not claim (the broker refused such a message earlier on this connection, 406 PRECONDITION_FAILED), so it was not published. {3}",
                PrintableWireText.Escape(exchange), PrintableWireText.Escape(routingKey), PrintableWireText.Escape(userId), Hint),
            index);

    // RabbitMQ 3.x and 4.x (rabbit_channel:check_user_id_header), names as they are. The claimed name is matched greedily, so
    // a claimed name that itself contains the text cannot change the authenticated one, which ends the reply.
    [GeneratedRegex(@"\APRECONDITION_FAILED - user_id property set to '(?<claimed>.*)' but authenticated user was '(?<actual>.*)'\z", RegexOptions.CultureInvariant | RegexOptions.Singleline)]
    private static partial Regex RefusalText();
}
