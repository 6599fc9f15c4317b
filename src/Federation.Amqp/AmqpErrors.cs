using Federation.Core.Transport;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Federation.Amqp;

/// <summary>Maps RabbitMQ.Client failures to the transport SPI's exceptions. Messages name the broker by its redacted URI only.</summary>
internal static class AmqpErrors
{
    private const ushort AccessRefused = 403;
    private const ushort NotFound = 404;
    private const ushort ResourceLocked = 405;
    private const ushort PreconditionFailed = 406;
    private const ushort CommandInvalid = 503;

    /// <summary>What the failed operation was, so a reply code maps to the exception the SPI documents for it.</summary>
    public enum Operation
    {
        /// <summary>Any other operation.</summary>
        Other,
        /// <summary>exchange.declare: 503, and 406 about the type, mean an unknown exchange type.</summary>
        DeclareExchange,
    }

    /// <summary>Maps a failed connect attempt to <paramref name="host"/> (named when it does not resolve).</summary>
    public static TransportException Connect(Exception error, string displayUri, string host, string? user, string? password)
    {
        for (var inner = error; inner is not null; inner = inner.InnerException)
        {
            if (inner is AuthenticationFailureException or PossibleAuthenticationFailureException)
            {
                return new AuthenticationFailedException($"The broker at {displayUri} refused the credentials: {Scrub(inner.Message, user, password)}");
            }

            if (inner is OperationInterruptedException { ShutdownReason.ReplyCode: AccessRefused } refused)
            {
                return new AuthenticationFailedException($"The broker at {displayUri} refused access: {Scrub(refused.ShutdownReason!.ReplyText, user, password)}");
            }
        }

        if (AmqpHostResolution.Describe(error, host) is { } unresolved)
        {
            return new Federation.Core.Transport.BrokerUnreachableException($"Could not connect to {displayUri}: {Scrub(unresolved, user, password)}", SafeInner(error, user, password));
        }

        var root = error;
        while (root.InnerException is not null)
        {
            root = root.InnerException;
        }

        return new Federation.Core.Transport.BrokerUnreachableException($"Could not connect to {displayUri}: {Scrub(root.Message, user, password)}");
    }

    /// <summary>Maps a failed operation on an open connection. Returns <see langword="null"/> for exceptions that are not the client's.</summary>
    /// <param name="error">What the client threw.</param>
    /// <param name="operation">What the failed operation was.</param>
    /// <param name="connection">The connection it failed on: its loss wins, and its credentials are removed from the broker's text.</param>
    public static TransportException? Map(Exception error, Operation operation, AmqpConnection connection)
    {
        var endpoint = connection.Endpoint;
        // RabbitMQ 3.x rejects an unknown exchange type with a connection-level 503: report the type, not just the loss.
        if (operation == Operation.DeclareExchange && error is OperationInterruptedException { ShutdownReason: { } declareReason }
            && (declareReason.ReplyCode == CommandInvalid || (declareReason.ReplyCode == PreconditionFailed && IsUnknownType(declareReason.ReplyText))))
        {
            return new ExchangeTypeNotSupportedException($"{declareReason.ReplyCode} {Scrub(declareReason.ReplyText, endpoint.User, endpoint.Password)}", SafeInner(error, endpoint.User, endpoint.Password));
        }

        // A closed connection beats whatever the channel said: the engine must see the loss and reconnect.
        if (connection.ClosedError() is { } lost)
        {
            return lost;
        }

        return error switch
        {
            OperationInterruptedException { ShutdownReason: { } reason } => FromReason(reason, operation, error, endpoint),
            ObjectDisposedException or InvalidOperationException when error.Source?.StartsWith("RabbitMQ", StringComparison.Ordinal) == true =>
                new TransportException($"The AMQP channel is no longer usable: {Scrub(error.Message, endpoint.User, endpoint.Password)}", SafeInner(error, endpoint.User, endpoint.Password)),
            System.IO.IOException or System.Net.Sockets.SocketException => new ConnectionLostException($"The AMQP connection failed: {Scrub(error.Message, endpoint.User, endpoint.Password)}", SafeInner(error, endpoint.User, endpoint.Password)),
            _ => null,
        };
    }

    /// <summary>Maps a channel or connection close reason; the broker's text names the user (403), so it is redacted.</summary>
    public static TransportException FromReason(ShutdownEventArgs reason, Operation operation, Exception? inner, AmqpEndpoint endpoint)
    {
        // The client's exception repeats the broker's text, and loggers print inner exceptions: one naming the user stays out.
        inner = SafeInner(inner, endpoint.User, endpoint.Password);
        var text = $"{reason.ReplyCode} {Scrub(reason.ReplyText, endpoint.User, endpoint.Password)}";
        return reason.ReplyCode switch
        {
            NotFound => new ResourceNotFoundException(text, inner),
            ResourceLocked => new ResourceLockedException(text, inner),
            CommandInvalid when operation == Operation.DeclareExchange => new ExchangeTypeNotSupportedException(text, inner),
            PreconditionFailed when operation == Operation.DeclareExchange && IsUnknownType(reason.ReplyText) => new ExchangeTypeNotSupportedException(text, inner),
            PreconditionFailed => new PreconditionFailedException(text, inner),
            _ => new TransportException(text, inner),
        };
    }

    /// <summary>RabbitMQ 3.x says "invalid exchange type", 4.x "unknown exchange type".</summary>
    public static bool IsUnknownType(string? replyText) =>
        replyText is not null
        && (replyText.Contains("invalid exchange type", StringComparison.OrdinalIgnoreCase)
            || replyText.Contains("unknown exchange type", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Removes the connection's user name and password, and credentials of any URI, from text that came from the broker
    /// (a 403 names the user) or the client library (in case it echoed them).
    /// </summary>
    public static string Scrub(string? text, string? user, string? password) => CredentialRedaction.Redact(text, user, password);

    /// <summary>
    /// <paramref name="error"/> when nothing in it (message, inner exceptions) names the user or the password or shows a
    /// URI's user information, else null:
    /// to keep as the inner exception of a mapped one, which loggers print in full. The client's exceptions repeat the
    /// broker's text (a 403 names the user), and cannot be scrubbed in place.
    /// </summary>
    public static Exception? SafeInner(Exception? error, string? user, string? password)
    {
        if (error is null)
        {
            return null;
        }

        var text = error.ToString();
        return string.Equals(Scrub(text, user, password), text, StringComparison.Ordinal) ? error : null;
    }
}
