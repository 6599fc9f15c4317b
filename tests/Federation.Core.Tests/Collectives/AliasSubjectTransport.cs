using Federation.Core.InMemory.Subjects;
using Federation.Core.Transport.Messaging;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// A second name for the in-memory subject servers: <c>alias://name</c> reaches <c>memory://name</c>, as a host name and
/// its address (or two servers of one NATS cluster) reach one message bus under two URIs that validation cannot tell apart.
/// </summary>
internal sealed class AliasSubjectTransport(InMemorySubjectTransport inner) : ISubjectTransport
{
    public const string Scheme = "alias";

    public IReadOnlyCollection<string> Schemes { get; } = [Scheme];

    public ValueTask<ISubjectConnection> ConnectAsync(SubjectConnectionRequest request, CancellationToken cancellationToken) =>
        inner.ConnectAsync(request with { Uri = InMemorySubjectTransport.Scheme + request.Uri[Scheme.Length..] }, cancellationToken);
}
