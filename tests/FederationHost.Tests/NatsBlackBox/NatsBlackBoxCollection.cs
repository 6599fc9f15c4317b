namespace FederationHost.Tests.NatsBlackBox;

/// <summary>
/// The NATS black-box cases run one at a time and alone (they start several servers, hosts and node processes, and
/// the load case measures loss under a window that the other cases' load would distort on a small machine).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NatsBlackBoxCollection
{
    public const string Name = "NATS black box";
}
