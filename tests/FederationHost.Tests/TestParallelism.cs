// Three test collections at a time rather than one per core (xunit's default is the processor count, 2 on CI): most of these
// tests wait on processes (a FederationHost started and stopped, a RabbitMQ node's boot), not on the CPU. The collections
// that are timing-sensitive under load (the three-host failovers, the NATS black-box load) keep DisableParallelization
// and still run alone. Not more: several node boots and host starts at once on a 2-core machine slow each other down.
[assembly: CollectionBehavior(MaxParallelThreads = 3)]
