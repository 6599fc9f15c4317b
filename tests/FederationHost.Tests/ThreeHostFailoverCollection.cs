namespace FederationHost.Tests;

/// <summary>
/// The three-host failover test runs alone: it measures how long a take-over takes against a 10 s bar, with two RabbitMQ
/// nodes and three hosts of its own, which other tests' nodes and hosts booting at the same time would distort on a small
/// machine.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreeHostFailoverCollection
{
    public const string Name = "Three-host failover";
}
