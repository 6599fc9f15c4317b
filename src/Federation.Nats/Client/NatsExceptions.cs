namespace Federation.Nats.Client;

/// <summary>Base type of every exception this client throws for NATS-level failures.</summary>
public class NatsException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NatsException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public NatsException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public NatsException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The server rejected the credentials (<c>-ERR 'Authorization Violation'</c>) or they expired.</summary>
public sealed class NatsAuthenticationException : NatsException
{
    /// <summary>Creates the exception.</summary>
    public NatsAuthenticationException()
        : base("The NATS server rejected the connection's credentials.")
    {
    }

    /// <summary>Creates the exception (the message never contains credentials).</summary>
    public NatsAuthenticationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public NatsAuthenticationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The operation needs a connected client and the connection is currently down (publishes fail fast).</summary>
public sealed class NatsNotConnectedException : NatsException
{
    /// <summary>Creates the exception.</summary>
    public NatsNotConnectedException()
        : base("The NATS connection is not connected; publishes and flushes fail fast while it reconnects.")
    {
    }

    /// <summary>Creates the exception.</summary>
    public NatsNotConnectedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public NatsNotConnectedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A message (headers plus payload) is larger than the server's <c>max_payload</c>.</summary>
public sealed class NatsPayloadTooLargeException : NatsException
{
    /// <summary>Creates the exception.</summary>
    public NatsPayloadTooLargeException(long size, long maxPayload)
        : base($"Message of {size} bytes (headers included) exceeds the server's max_payload of {maxPayload} bytes.")
    {
        Size = size;
        MaxPayload = maxPayload;
    }

    /// <summary>Creates the exception.</summary>
    public NatsPayloadTooLargeException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public NatsPayloadTooLargeException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public NatsPayloadTooLargeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The rejected message's size in bytes.</summary>
    public long Size { get; }

    /// <summary>The server's limit.</summary>
    public long MaxPayload { get; }
}

/// <summary>A request reached no subscriber (the server answered with status 503).</summary>
public sealed class NatsNoRespondersException : NatsException
{
    /// <summary>Creates the exception.</summary>
    public NatsNoRespondersException()
        : base("No responders are subscribed to the request's subject.")
    {
    }

    /// <summary>Creates the exception.</summary>
    public NatsNoRespondersException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public NatsNoRespondersException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>No reply arrived within the request timeout.</summary>
public sealed class NatsRequestTimeoutException : NatsException
{
    /// <summary>Creates the exception.</summary>
    public NatsRequestTimeoutException()
        : base("The request timed out without a reply.")
    {
    }

    /// <summary>Creates the exception.</summary>
    public NatsRequestTimeoutException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public NatsRequestTimeoutException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The server sent <c>-ERR</c>.</summary>
public sealed class NatsServerErrorException : NatsException
{
    /// <summary>Creates the exception.</summary>
    public NatsServerErrorException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public NatsServerErrorException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public NatsServerErrorException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
