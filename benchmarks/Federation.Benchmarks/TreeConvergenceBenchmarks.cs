using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Federation.Core;
using Federation.Core.InMemory;
using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Benchmarks;

/// <summary>
/// A fan-out tree of 1,000 in-memory brokers (root, 9, 90, 900 leaves with one queue each): the time until every link
/// runs, every leaf's binding has propagated to the root, and one message published at the root has reached all 900
/// leaves. The reference builds the same 1,000 brokers, exchanges, queues and bindings without federation, so the
/// ratio is what federation adds on top of standing the topology up.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
[MemoryDiagnoser]
public class TreeConvergenceBenchmarks
{
    private const int Brokers = 1000;

    [Benchmark(Baseline = true, Description = "1,000 brokers, topology only")]
    public async Task TopologyOnly()
    {
        var registry = new InMemoryBrokerRegistry();
        for (var node = 0; node < Brokers; node++)
        {
            await DeclareAsync(registry.GetOrAdd(Name(node), Name(node)), node);
        }
    }

    [Benchmark(Description = "1,000 brokers federated: converge and deliver")]
    public async Task FederatedTree()
    {
        var registry = new InMemoryBrokerRegistry();
        var transport = new InMemoryTransport(registry);
        var engines = new List<FederationEngine>();
        var delivered = 0;
        var allDelivered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        for (var node = 0; node < Brokers; node++)
        {
            registry.GetOrAdd(Name(node), Name(node));
        }

        for (var node = 1; node < Brokers; node++)
        {
            var options = new FederationOptions { Downstream = { Uri = $"memory://{Name(node)}/%2f" } };
            options.Upstreams["parent"] = new UpstreamDefinition { Uris = { $"memory://{Name(Parent(node))}/%2f" }, MaxHops = 3 };
            options.Policies["tree"] = new FederationPolicy { Pattern = "^tree$", Definition = { FederationUpstream = "parent" } };
            var engine = new FederationEngine(options, [transport]);
            engines.Add(engine);
            await engine.StartAsync(CancellationToken.None);
        }

        for (var node = 0; node < Brokers; node++)
        {
            var connection = await DeclareAsync(registry.GetOrAdd(Name(node)), node);
            if (IsLeaf(node))
            {
                await connection.ConsumeAsync($"q{node}", new ConsumerOptions(0, AutoAck: true), (_, _) =>
                {
                    if (Interlocked.Increment(ref delivered) == 900)
                    {
                        allDelivered.TrySetResult();
                    }

                    return ValueTask.CompletedTask;
                }, CancellationToken.None);
            }
        }

        // Converged when every leaf's binding has reached the root. Each arrives once per path (x-bound-from makes the
        // propagated bindings distinct), so the root carries all 900, and the children and grandchildren carry theirs.
        var root = registry.GetOrAdd(Name(0));
        while (root.GetBindings("/", "tree").Count < 900)
        {
            await Task.Delay(1);
        }

        await using (var publisher = await (await root.ConnectAsync()).OpenPublisherAsync(new PublisherOptions(true), CancellationToken.None))
        {
            await publisher.PublishAsync("tree", "k", new MessageProperties(), new byte[16], CancellationToken.None);
        }

        await allDelivered.Task.WaitAsync(TimeSpan.FromMinutes(2));
        foreach (var engine in engines)
        {
            await engine.DisposeAsync();
        }
    }

    private static async Task<IBrokerConnection> DeclareAsync(InMemoryBroker broker, int node)
    {
        var connection = await broker.ConnectAsync();
        await connection.DeclareExchangeAsync(new ExchangeSpec("tree", ExchangeSpec.Types.Direct), CancellationToken.None);
        if (IsLeaf(node))
        {
            await connection.DeclareQueueAsync(new QueueSpec($"q{node}", Durable: false), CancellationToken.None);
            await connection.BindAsync(new BindingSpec("tree", $"q{node}", BindingDestinationKind.Queue, "k"), false, CancellationToken.None);
        }

        return connection;
    }

    private static string Name(int node) => $"b{node}";

    // 0 is the root; 1-9 its children; 10-99 grandchildren (10 per child); 100-999 leaves (10 per grandchild).
    private static int Parent(int node) => node <= 9 ? 0 : node <= 99 ? 1 + (node - 10) / 10 : 10 + (node - 100) / 10;

    private static bool IsLeaf(int node) => node >= 100;
}
