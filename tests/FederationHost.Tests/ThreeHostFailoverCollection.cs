namespace FederationHost.Tests;

/// <summary>
/// The three-host failover tests (on RabbitMQ and on NATS) run alone, one after the other: each measures how long a
/// take-over takes against a 10 s bar, with two brokers and three hosts of its own, which other tests' brokers and hosts
/// booting at the same time would distort on a small machine.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreeHostFailoverCollection
{
    public const string Name = "Three-host failover";
}
