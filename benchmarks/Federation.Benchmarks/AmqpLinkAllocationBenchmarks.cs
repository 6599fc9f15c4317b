using System.Globalization;
using BenchmarkDotNet.Attributes;
using Federation.Amqp;
using Federation.Core;
using Federation.Core.Model;
using Federation.Testing.Brokers;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Federation.Benchmarks;

/// <summary>
/// What an AMQP link allocates per forwarded message, against a real RabbitMQ node (started for the run, two vhosts:
/// two links federate from vhost <c>up</c> into <c>/</c>, on-confirm: <c>bench.alloc.dedup</c> with duplicate suppression,
/// the default, whose forwards go out in committed units with their ledger record, and <c>bench.alloc.confs</c> without it,
/// whose forwards are published one by one with publisher confirms). Each operation publishes
/// <see cref="Messages"/> messages of 256 bytes with the plain client and waits until the downstream consumer has them
/// all. The references do the same publish and consume on one vhost with no link, so the difference in allocated bytes
/// per message is the link's (GC allocation counters are process-wide: every thread counts). The link's body copy
/// (256 B plus the array header) is part of that difference; the goal excludes it. A forwarded message arrives
/// with the <c>x-received-from</c> trail, which the downstream consumer's client parses (a table, a byte array per text
/// value, about 1 KB): that is the receiver's cost of a federated message, which the plugin's forwards carry too, not the
/// link's. The reference with the trail publishes the very headers a forwarded message arrives with (taken from a probe),
/// so that only the link's own allocations make the difference; the plain reference (no headers) is the one earlier rows of
/// the table were measured against.
/// </summary>
/// <remarks>Needs rabbitmq-server installed (3.10.8 here). Timings are end to end through a broker and noisy; read the allocations.
/// In process (the node takes a minute to start, and a separate build of the whole solution is slow here).</remarks>
[MemoryDiagnoser]
[InProcess]
[WarmupCount(3)]
[IterationCount(10)]
public class AmqpLinkAllocationBenchmarks
{
    private const int Messages = 2_000;
    private const string Direct = "bench.direct";
    // Names of equal length, so that both links' trails have the same size as the reference's.
    private const string Federated = "bench.alloc.dedup";
    private const string FederatedWithConfirms = "bench.alloc.confs";
    private static readonly byte[] Body = new byte[256];

    private RabbitMqNode node = null!;
    private FederationEngine engine = null!;
    private IConnection upstream = null!;
    private IConnection downstream = null!;
    private IChannel upstreamPublisher = null!;
    private IChannel downstreamPublisher = null!;
    private IChannel consumerChannel = null!;
    private int received;
    private BasicProperties withTrail = new();
    private int target;
    private TaskCompletionSource done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    [GlobalSetup]
    public async Task SetUp()
    {
        node = await RabbitMqNode.StartNewAsync();
        await Ctl("add_vhost", "up");
        await Ctl("set_permissions", "-p", "up", "guest", ".*", ".*", ".*");

        var options = new FederationOptions { Downstream = { Uri = node.AmqpUri("/") } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { node.AmqpUri("up") }, AckMode = AckMode.OnConfirm, PrefetchCount = 1000 };
        options.Upstreams["up-confirms"] = new UpstreamDefinition { Uris = { node.AmqpUri("up") }, AckMode = AckMode.OnConfirm, PrefetchCount = 1000, DuplicateSuppression = false };
        options.Policies["alloc"] = new FederationPolicy { Pattern = "^bench\\.alloc\\.dedup$", ApplyTo = "exchanges", Definition = { FederationUpstream = "up" } };
        options.Policies["alloc-confirms"] = new FederationPolicy { Pattern = "^bench\\.alloc\\.confs$", ApplyTo = "exchanges", Definition = { FederationUpstream = "up-confirms" } };
        engine = new FederationEngine(options, [new AmqpTransport()]);
        await engine.StartAsync(CancellationToken.None);

        upstream = await new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{node.AmqpPort.ToString(CultureInfo.InvariantCulture)}/up") }.CreateConnectionAsync();
        downstream = await new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{node.AmqpPort.ToString(CultureInfo.InvariantCulture)}/%2f") }.CreateConnectionAsync();
        upstreamPublisher = await upstream.CreateChannelAsync();
        downstreamPublisher = await downstream.CreateChannelAsync();
        consumerChannel = await downstream.CreateChannelAsync();
        await upstreamPublisher.ExchangeDeclareAsync(Federated, ExchangeType.Direct, durable: true);
        await upstreamPublisher.ExchangeDeclareAsync(FederatedWithConfirms, ExchangeType.Direct, durable: true);
        foreach (var exchange in new[] { Direct, Federated, FederatedWithConfirms })
        {
            await consumerChannel.ExchangeDeclareAsync(exchange, ExchangeType.Direct, durable: true);
            var queue = (await consumerChannel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
            await consumerChannel.QueueBindAsync(queue, exchange, "k");
            var consumer = new AsyncEventingBasicConsumer(consumerChannel);
            consumer.ReceivedAsync += (_, delivery) =>
            {
                if (withTrail.Headers is null && delivery.BasicProperties.Headers is { } headers && headers.ContainsKey("x-received-from"))
                {
                    // As the client parsed them (text as UTF-8 byte arrays, which it writes back as the same long strings).
                    withTrail = new BasicProperties { Headers = new Dictionary<string, object?>(headers) };
                }

                if (Interlocked.Increment(ref received) == Volatile.Read(ref target))
                {
                    done.TrySetResult();
                }

                return Task.CompletedTask;
            };
            await consumerChannel.BasicConsumeAsync(queue, autoAck: true, consumer);
        }

        // A link's binding reaches the upstream asynchronously: probe until a federated message arrives through each.
        await ProbeAsync(Federated);
        await ProbeAsync(FederatedWithConfirms);
        if (withTrail.Headers is null)
        {
            throw new InvalidOperationException("A forwarded probe arrived without x-received-from.");
        }

        // Probes sent before the binding existed are gone; late ones may still arrive: let them drain before measuring.
        await Task.Delay(1000);
    }

    [GlobalCleanup]
    public async Task TearDown()
    {
        await engine.DisposeAsync();
        await upstream.CloseAsync();
        await downstream.CloseAsync();
        await node.DisposeAsync();
    }

    [Benchmark(OperationsPerInvoke = Messages, Description = "publish and consume, same vhost, no link (plain reference)")]
    public Task Direct_publish_and_consume() => RunAsync(downstreamPublisher, Direct);

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages, Description = "publish with the trail a forward arrives with and consume, same vhost, no link (reference)")]
    public Task Direct_publish_and_consume_with_trail() => RunAsync(downstreamPublisher, Direct, withTrail);

    /// <summary>
    /// What the process allocates in 100 ms without messages (the engine's timers, the clients' heartbeats, the harness):
    /// it counts into every row in proportion to the row's time per message, so a slower row carries more of it.
    /// </summary>
    [Benchmark(Description = "idle for 100 ms, no messages (background, bytes per 100 ms)")]
    public Task Idle_for_100_ms() => Task.Delay(100);

    [Benchmark(OperationsPerInvoke = Messages, Description = "publish upstream, link forwards on-confirm with duplicate suppression (units), consume downstream")]
    public Task Through_one_amqp_link() => RunAsync(upstreamPublisher, Federated);

    [Benchmark(OperationsPerInvoke = Messages, Description = "publish upstream, link forwards on-confirm without duplicate suppression (confirms), consume downstream")]
    public Task Through_one_amqp_link_with_confirms() => RunAsync(upstreamPublisher, FederatedWithConfirms);

    private async Task ProbeAsync(string exchange)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            received = 0;
            target = 1;
            done = new(TaskCreationOptions.RunContinuationsAsynchronously);
            await upstreamPublisher.BasicPublishAsync(exchange, "k", Body);
            if (await Task.WhenAny(done.Task, Task.Delay(500)) == done.Task)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The link of '{exchange}' did not forward a probe message within 2 minutes.");
            }
        }
    }

    private async Task RunAsync(IChannel publisher, string exchange, BasicProperties? properties = null)
    {
        done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref received, 0);
        Volatile.Write(ref target, Messages);
        for (var i = 0; i < Messages; i++)
        {
            if (properties is null)
            {
                await publisher.BasicPublishAsync(exchange, "k", Body);
            }
            else
            {
                await publisher.BasicPublishAsync(exchange, "k", mandatory: false, properties, Body);
            }
        }

        await done.Task.WaitAsync(TimeSpan.FromMinutes(1));
    }

    private async Task Ctl(params string[] arguments)
    {
        var result = await node.CtlAsync(CancellationToken.None, arguments);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', arguments)} failed: {result.Output}");
        }
    }
}
