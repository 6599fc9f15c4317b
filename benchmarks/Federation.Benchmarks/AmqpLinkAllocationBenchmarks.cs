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
/// the link federates <c>bench.alloc</c> from vhost <c>up</c> into <c>/</c>, on-confirm). Each operation publishes
/// <see cref="Messages"/> messages of 256 bytes with the plain client and waits until the downstream consumer has them
/// all. The reference does the same publish and consume on one vhost with no link, so the difference in allocated bytes
/// per message is the link's (GC allocation counters are process-wide: every thread counts). The link's body copy
/// (256 B plus the array header) is part of that difference; the goal excludes it.
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
    private const string Federated = "bench.alloc";
    private static readonly byte[] Body = new byte[256];

    private RabbitMqNode node = null!;
    private FederationEngine engine = null!;
    private IConnection upstream = null!;
    private IConnection downstream = null!;
    private IChannel upstreamPublisher = null!;
    private IChannel downstreamPublisher = null!;
    private IChannel consumerChannel = null!;
    private int received;
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
        options.Policies["alloc"] = new FederationPolicy { Pattern = "^bench\\.alloc$", ApplyTo = "exchanges", Definition = { FederationUpstream = "up" } };
        engine = new FederationEngine(options, [new AmqpTransport()]);
        await engine.StartAsync(CancellationToken.None);

        upstream = await new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{node.AmqpPort.ToString(CultureInfo.InvariantCulture)}/up") }.CreateConnectionAsync();
        downstream = await new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{node.AmqpPort.ToString(CultureInfo.InvariantCulture)}/%2f") }.CreateConnectionAsync();
        upstreamPublisher = await upstream.CreateChannelAsync();
        downstreamPublisher = await downstream.CreateChannelAsync();
        consumerChannel = await downstream.CreateChannelAsync();
        await upstreamPublisher.ExchangeDeclareAsync(Federated, ExchangeType.Direct, durable: true);
        foreach (var exchange in new[] { Direct, Federated })
        {
            await consumerChannel.ExchangeDeclareAsync(exchange, ExchangeType.Direct, durable: true);
            var queue = (await consumerChannel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
            await consumerChannel.QueueBindAsync(queue, exchange, "k");
            var consumer = new AsyncEventingBasicConsumer(consumerChannel);
            consumer.ReceivedAsync += (_, _) =>
            {
                if (Interlocked.Increment(ref received) == Volatile.Read(ref target))
                {
                    done.TrySetResult();
                }

                return Task.CompletedTask;
            };
            await consumerChannel.BasicConsumeAsync(queue, autoAck: true, consumer);
        }

        // The link's binding reaches the upstream asynchronously: probe until a federated message arrives.
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            received = 0;
            target = 1;
            done = new(TaskCreationOptions.RunContinuationsAsynchronously);
            await upstreamPublisher.BasicPublishAsync(Federated, "k", Body);
            if (await Task.WhenAny(done.Task, Task.Delay(500)) == done.Task)
            {
                break;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The link did not forward a probe message within 2 minutes.");
            }
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

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages, Description = "publish and consume, same vhost, no link (reference)")]
    public Task Direct_publish_and_consume() => RunAsync(downstreamPublisher, Direct);

    [Benchmark(OperationsPerInvoke = Messages, Description = "publish upstream, link forwards on-confirm, consume downstream")]
    public Task Through_one_amqp_link() => RunAsync(upstreamPublisher, Federated);

    private async Task RunAsync(IChannel publisher, string exchange)
    {
        done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref received, 0);
        Volatile.Write(ref target, Messages);
        for (var i = 0; i < Messages; i++)
        {
            await publisher.BasicPublishAsync(exchange, "k", Body);
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
