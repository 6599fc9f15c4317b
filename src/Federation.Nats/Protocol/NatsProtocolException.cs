using Federation.Nats.Client;

namespace Federation.Nats.Protocol;

/// <summary>
/// The server sent bytes that are not valid NATS protocol (or exceed the configured limits). The connection treats it
/// as fatal for the socket and reconnects; it is the only exception the parser throws.
/// </summary>
public sealed class NatsProtocolException : NatsException
{
    /// <summary>Creates the exception.</summary>
    public NatsProtocolException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public NatsProtocolException()
        : base("NATS protocol violation.")
    {
    }

    /// <summary>Creates the exception.</summary>
    public NatsProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
