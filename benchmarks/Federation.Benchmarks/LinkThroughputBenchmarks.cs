using BenchmarkDotNet.Attributes;
using Federation.Core;
using Federation.Core.InMemory;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Benchmarks;

/// <summary>
/// End-to-end messages per second through one in-memory link (publish upstream, link forwards, downstream queue
/// consumer receives), against the same publish-and-consume on one broker with no federation. The ratio is the cost of
/// federation; allocations per message show what the link adds beyond the message itself.
/// </summary>
[MemoryDiagnoser]
public class LinkThroughputBenchmarks
{
    private const int Messages = 10_000;
    private static readonly byte[] Body = new byte[256];

    private readonly InMemoryBrokerRegistry registry = new();
    private FederationEngine engine = null!;
    private IMessagePublisher upstreamPublisher = null!;
    private IMessagePublisher localPublisher = null!;
    private readonly MessageProperties properties = new() { ContentType = "application/octet-stream" };
    private int received;
    private int target;
    private TaskCompletionSource done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Every message differs (a sequence number in its first bytes): with duplicate suppression, equal messages would be one.
    private long sequence;

    [Params(AckMode.OnConfirm, AckMode.NoAck)]
    public AckMode AckMode { get; set; }

    /// <summary><c>duplicate-suppression</c>; only on-confirm links use it.</summary>
    [Params(true, false)]
    public bool DuplicateSuppression { get; set; }

    [GlobalSetup]
    public async Task SetUp()
    {
        var upstream = registry.GetOrAdd("upstream", "upstream");
        var downstream = registry.GetOrAdd("downstream", "downstream");
        var options = new FederationOptions { Downstream = { Uri = "memory://downstream/%2f" } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { "memory://upstream/%2f" }, AckMode = AckMode, DuplicateSuppression = DuplicateSuppression };
        options.Policies["fed"] = new FederationPolicy { Pattern = "^fed$", Definition = { FederationUpstream = "up" } };
        engine = new FederationEngine(options, [new InMemoryTransport(registry)]);
        await engine.StartAsync(CancellationToken.None);

        var app = await downstream.ConnectAsync();
        await app.DeclareExchangeAsync(new ExchangeSpec("fed", ExchangeSpec.Types.Direct), CancellationToken.None);
        await app.DeclareQueueAsync(new QueueSpec("sink", Durable: false), CancellationToken.None);
        await app.BindAsync(new BindingSpec("fed", "sink", BindingDestinationKind.Queue, "k"), false, CancellationToken.None);
        await app.ConsumeAsync("sink", new ConsumerOptions(0, AutoAck: true), Count, CancellationToken.None);

        // The reference path: the same exchange type, queue and consumer on one broker, no link in between.
        var local = await upstream.ConnectAsync();
        await local.DeclareExchangeAsync(new ExchangeSpec("local", ExchangeSpec.Types.Direct), CancellationToken.None);
        await local.DeclareQueueAsync(new QueueSpec("local-sink", Durable: false), CancellationToken.None);
        await local.BindAsync(new BindingSpec("local", "local-sink", BindingDestinationKind.Queue, "k"), false, CancellationToken.None);
        await local.ConsumeAsync("local-sink", new ConsumerOptions(0, AutoAck: true), Count, CancellationToken.None);
        localPublisher = await local.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
        upstreamPublisher = await (await upstream.ConnectAsync()).OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (engine.GetLinks() is not [{ State: LinkState.Running }] || upstream.GetBindings("/", "fed").Count != 1)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The link did not start.");
            }

            await Task.Delay(10);
        }
    }

    [GlobalCleanup]
    public async Task CleanUp() => await engine.DisposeAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages, Description = "Same broker, no federation")]
    public Task Local() => RunAsync(localPublisher, "local");

    [Benchmark(OperationsPerInvoke = Messages, Description = "Through one federation link")]
    public Task Federated() => RunAsync(upstreamPublisher, "fed");

    private async Task RunAsync(IMessagePublisher publisher, string exchange)
    {
        received = 0;
        target = Messages;
        done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        for (var i = 0; i < Messages; i++)
        {
            // The broker copies the body on publish, so one buffer serves every message.
            BitConverter.TryWriteBytes(Body, ++sequence);
            await publisher.PublishAsync(exchange, "k", properties, Body, CancellationToken.None);
        }

        await done.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }

    private ValueTask Count(Delivery delivery, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref received) == target)
        {
            done.TrySetResult();
        }

        return ValueTask.CompletedTask;
    }
}
