namespace Federation.Core.Transport.Messaging;

/// <summary>
/// A pluggable transport for subject-addressed messaging with queue groups and reply subjects: the second, smaller SPI,
/// used by the Federation of Collectives (the Choria model). Exchange federation uses <see cref="ITransport"/>; a collective
/// federation broker needs only "publish to a subject" and "subscribe to a subject, optionally sharing work in a queue
/// group", which core NATS offers natively and which the exchange SPI cannot express (its queues are per connection).
/// Register implementations in DI; the caller picks one by the URI scheme.
/// </summary>
public interface ISubjectTransport
{
    /// <summary>URI schemes this transport serves, for example <c>nats</c> and <c>memory</c>.</summary>
    IReadOnlyCollection<string> Schemes { get; }

    /// <summary>
    /// Opens a connection. Fails with <see cref="TransportException"/> (or a subclass) when the server cannot be reached or
    /// refuses the credentials; the exception message never contains credentials.
    /// </summary>
    /// <param name="request">Where to connect, and how to name the connection.</param>
    /// <param name="cancellationToken">Cancels the connect attempt.</param>
    ValueTask<ISubjectConnection> ConnectAsync(SubjectConnectionRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Checks a URI without connecting, as a host does when it starts: what <see cref="ConnectAsync"/> would refuse as
    /// malformed (syntax, query keys, files the URI names).
    /// </summary>
    /// <param name="uri">The URI, possibly with credentials.</param>
    /// <returns>One sentence per problem, never with credentials; empty when the URI is usable. The default accepts every URI.</returns>
    IReadOnlyList<string> ValidateUri(string uri) => [];
}

/// <summary>Parameters for <see cref="ISubjectTransport.ConnectAsync"/>.</summary>
/// <param name="Uri">Server URI, possibly with credentials. Never log it: use <see cref="UriRedaction.Redact(string)"/>.</param>
/// <param name="ConnectionName">A human-readable connection name shown by the server's monitoring tools.</param>
public sealed record SubjectConnectionRequest(string Uri, string ConnectionName)
{
    /// <summary>Hides the credentials so the request can be logged.</summary>
    public override string ToString() => $"{UriRedaction.Redact(Uri)} ({ConnectionName})";
}
