using Federation.Core.InMemory.Subjects;
using Federation.Core.Transport.Messaging;
using Federation.Transport.Contracts.Messaging;

namespace Federation.Core.Tests.Collectives;

/// <summary>The subject-messaging contract suite against the in-memory subject bus (one server per test).</summary>
public sealed class InMemorySubjectContractTests : SubjectTransportContractTests
{
    private readonly InMemorySubjectTransport transport;

    public InMemorySubjectContractTests()
    {
        var registry = new InMemorySubjectServerRegistry();
        registry.Add(new InMemorySubjectServer("contract"));
        transport = new InMemorySubjectTransport(registry);
    }

    protected override ValueTask<ISubjectConnection> ConnectAsync(string connectionName, CancellationToken cancellationToken) =>
        transport.ConnectAsync(new SubjectConnectionRequest("memory://contract", connectionName), cancellationToken);
}
