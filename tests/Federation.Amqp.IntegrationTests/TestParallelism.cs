// Three test collections at a time rather than one per core (xunit's default is the processor count, 2 on CI): these tests
// spend most of their wall time waiting on RabbitMQ nodes (a node's boot, a restart, a broker's reply), not on the CPU, and
// with two slots the suite's last quarter ran one collection at a time, each mostly waiting for its nodes to boot (the
// per-class fixtures and the non-parallel tracing collection). Not more: several node boots at once on a 2-core machine
// slow each other down (scripts/test.sh runs one test assembly at a time for the same reason).
[assembly: CollectionBehavior(MaxParallelThreads = 3)]
