namespace Federation.Core.Transport;

/// <summary>Base class of the errors transports raise. Messages never contain credentials.</summary>
public class TransportException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TransportException() { }
    /// <summary>Creates the exception.</summary>
    public TransportException(string message) : base(message) { }
    /// <summary>Creates the exception.</summary>
    public TransportException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>The broker could not be reached, or refused the connection.</summary>
public class BrokerUnreachableException : TransportException
{
    /// <summary>Creates the exception.</summary>
    public BrokerUnreachableException() { }
    /// <summary>Creates the exception.</summary>
    public BrokerUnreachableException(string message) : base(message) { }
    /// <summary>Creates the exception.</summary>
    public BrokerUnreachableException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>The broker refused the credentials (AMQP 403 ACCESS_REFUSED at connection level, NATS authorization violation).</summary>
public class AuthenticationFailedException : BrokerUnreachableException
{
    /// <summary>Creates the exception.</summary>
    public AuthenticationFailedException() { }
    /// <summary>Creates the exception.</summary>
    public AuthenticationFailedException(string message) : base(message) { }
    /// <summary>Creates the exception.</summary>
    public AuthenticationFailedException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>The connection was lost or closed while an operation was under way.</summary>
public class ConnectionLostException : TransportException
{
    /// <summary>Creates the exception.</summary>
    public ConnectionLostException() { }
    /// <summary>Creates the exception.</summary>
    public ConnectionLostException(string message) : base(message) { }
    /// <summary>Creates the exception.</summary>
    public ConnectionLostException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>A queue or exchange named in an operation does not exist (AMQP 404 NOT_FOUND).</summary>
public class ResourceNotFoundException : TransportException
{
    /// <summary>Creates the exception.</summary>
    public ResourceNotFoundException() { }
    /// <summary>Creates the exception.</summary>
    public ResourceNotFoundException(string message) : base(message) { }
    /// <summary>Creates the exception.</summary>
    public ResourceNotFoundException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>A declaration conflicts with an existing resource (AMQP 406 PRECONDITION_FAILED).</summary>
public class PreconditionFailedException : TransportException
{
    /// <summary>Creates the exception.</summary>
    public PreconditionFailedException() { }
    /// <summary>Creates the exception.</summary>
    public PreconditionFailedException(string message) : base(message) { }
    /// <summary>Creates the exception.</summary>
    public PreconditionFailedException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>The broker does not support the requested exchange type (AMQP 503 COMMAND_INVALID on declare).</summary>
public class ExchangeTypeNotSupportedException : TransportException
{
    /// <summary>Creates the exception.</summary>
    public ExchangeTypeNotSupportedException() { }
    /// <summary>Creates the exception.</summary>
    public ExchangeTypeNotSupportedException(string message) : base(message) { }
    /// <summary>Creates the exception.</summary>
    public ExchangeTypeNotSupportedException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>The broker refused responsibility for a published message (publisher-confirm nack, or a message over its size limit).</summary>
public class PublishNackedException : TransportException
{
    /// <summary>Creates the exception.</summary>
    public PublishNackedException() { }
    /// <summary>Creates the exception.</summary>
    public PublishNackedException(string message) : base(message) { }
    /// <summary>Creates the exception.</summary>
    public PublishNackedException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>
/// The downstream can never take this message as it is (for example it is over the server's size limit, its routing
/// key has no subject form there, or it claims a <c>user_id</c> the downstream user may not publish in): sending it again
/// cannot succeed. A link counts it as lost (<c>downstream_rejected</c>), rejects it upstream without requeueing (a
/// dead-letter exchange on the upstream queue keeps it) and goes on, rather than returning it to the upstream, which would
/// redeliver it first and stall the link behind it.
/// </summary>
public class MessageRefusedException : PublishNackedException
{
    /// <summary>Creates the exception.</summary>
    public MessageRefusedException() { }
    /// <summary>Creates the exception.</summary>
    public MessageRefusedException(string message) : base(message) { }
    /// <summary>Creates the exception.</summary>
    public MessageRefusedException(string message, Exception? innerException) : base(message, innerException) { }
    /// <summary>Creates the exception for the message at <paramref name="index"/> of a unit of several (see <see cref="IDeliveryLedger.PublishAndRecordAsync"/>).</summary>
    public MessageRefusedException(string message, int index) : base(message) => Index = index;

    /// <summary>Which message of a unit it is (0 for a single publish); nothing of the unit was written.</summary>
    public int Index { get; }
}

/// <summary>
/// The transport can never carry this message to the broker as it is (AMQP: its properties and headers do not fit in one
/// frame of the connection, its body is over the broker's <c>max_message_size</c>, or its routing key is over 255 bytes). Usually it was refused before it was written, and nothing else on the connection was harmed; a limit the
/// transport only learns from the broker's refusal (RabbitMQ's <c>max_message_size</c>) is enforced that way from then on.
/// Retrying cannot help; a link settles it as every <see cref="MessageRefusedException"/>, counted as <c>too_large</c>.
/// </summary>
public class MessageTooLargeException : MessageRefusedException
{
    /// <summary>Creates the exception.</summary>
    public MessageTooLargeException() { }
    /// <summary>Creates the exception.</summary>
    public MessageTooLargeException(string message) : base(message) { }
    /// <summary>Creates the exception.</summary>
    public MessageTooLargeException(string message, Exception? innerException) : base(message, innerException) { }
    /// <summary>Creates the exception for the message at <paramref name="index"/> of a unit of several (see <see cref="IDeliveryLedger.PublishAndRecordAsync"/>).</summary>
    public MessageTooLargeException(string message, int index) : base(message, index) { }
}

/// <summary>
/// The broker failed a unit's commit after it may have stored part of it (see
/// <see cref="IDeliveryLedger.PublishAndRecordAsync"/>): it refused some of the unit's messages, which were not published,
/// while its other messages and its ledger record may be stored. AMQP: RabbitMQ's <c>tx.commit</c> is not atomic across
/// queues; a queue that refuses a message (<c>x-overflow: reject-publish</c> at its limit) fails the commit with 406
/// "partial tx completion", and what the other queues, the ledger's among them, took stays. The unit's record must not
/// count: the caller revokes it, and the refused messages, redelivered upstream, are forwarded again.
/// </summary>
public class UnitPartlyCommittedException : TransportException
{
    /// <summary>Creates the exception.</summary>
    public UnitPartlyCommittedException() { }
    /// <summary>Creates the exception.</summary>
    public UnitPartlyCommittedException(string message) : base(message) { }
    /// <summary>Creates the exception.</summary>
    public UnitPartlyCommittedException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>Another connection holds exclusive access to the resource (AMQP 405 RESOURCE_LOCKED: an exclusive queue declared by another connection).</summary>
public class ResourceLockedException : TransportException
{
    /// <summary>Creates the exception.</summary>
    public ResourceLockedException() { }
    /// <summary>Creates the exception.</summary>
    public ResourceLockedException(string message) : base(message) { }
    /// <summary>Creates the exception.</summary>
    public ResourceLockedException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>
/// A queue or exchange name is longer than the broker allows (AMQP: 255 bytes of UTF-8, the most a short string holds),
/// so the operation could not even be sent. Retrying cannot help: the name has to change.
/// </summary>
public class NameTooLongException : TransportException
{
    /// <summary>Creates the exception.</summary>
    public NameTooLongException() { }
    /// <summary>Creates the exception.</summary>
    public NameTooLongException(string message) : base(message) { }
    /// <summary>Creates the exception.</summary>
    public NameTooLongException(string message, Exception? innerException) : base(message, innerException) { }
    /// <summary>Creates the exception for <paramref name="name"/>, over a limit of <paramref name="maxBytes"/> bytes of UTF-8.</summary>
    public NameTooLongException(string message, string name, int maxBytes, Exception? innerException = null) : base(message, innerException)
    {
        Name = name;
        MaxBytes = maxBytes;
    }

    /// <summary>The name that is too long, when known.</summary>
    public string? Name { get; }

    /// <summary>The most bytes of UTF-8 a name may have on the broker, when known (0 otherwise).</summary>
    public int MaxBytes { get; }
}
