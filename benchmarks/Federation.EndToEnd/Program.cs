// Sends the same load through two federated exchanges between the same two RabbitMQ nodes, in one run:
// "bench.plugin" is federated by RabbitMQ's own federation plugin, "bench.ours" by a Federation.Core link in this process.
// Both use ack-mode on-confirm, prefetch 1000 and 256-byte messages. Each round measures both paths, alternating which
// goes first; the summary gives the median of each path and the ratios of the medians.
// Usage: Federation.EndToEnd UPSTREAM_URI DOWNSTREAM_URI [MESSAGES] [ROUNDS] [BROKER_PID...]
// With the brokers' process ids, it also reports the CPU time that the brokers and this process spent per message on
// each path (Linux /proc): a figure that depends less than msgs/s on what else the machine runs.
using System.Diagnostics;
using System.Globalization;
using Federation.Amqp;
using Federation.Core;
using Federation.Core.Model;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

const string Plugin = "bench.plugin";
const string Ours = "bench.ours";
const int PrefetchCount = 1000; // The plugin's default prefetch-count; the script configures the plugin with it too.
const int ProducerWindow = 256; // Confirmed publishes in flight from the load generator.

var upstreamUri = args[0];
var downstreamUri = args[1];
var messages = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20_000;
var rounds = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 3;
var brokerPids = args.Skip(4).Select(pid => int.Parse(pid, CultureInfo.InvariantCulture)).ToArray();

var options = new FederationOptions { Downstream = { Uri = downstreamUri } };
options.Upstreams["upstream"] = new UpstreamDefinition { Uris = { upstreamUri }, AckMode = AckMode.OnConfirm, PrefetchCount = PrefetchCount };
options.Policies["ours"] = new FederationPolicy { Pattern = "^bench\\.ours$", ApplyTo = "exchanges", Definition = { FederationUpstream = "upstream" } };
await using var engine = new FederationEngine(options, [new AmqpTransport()]);
await engine.StartAsync(CancellationToken.None);

var upstream = await Connect(upstreamUri);
var downstream = await Connect(downstreamUri);
var sinks = new Dictionary<string, Sink>
{
    [Plugin] = await Sink.StartAsync(downstream, Plugin, messages),
    [Ours] = await Sink.StartAsync(downstream, Ours, messages),
};
await using (var declarer = await upstream.CreateChannelAsync())
{
    foreach (var exchange in sinks.Keys)
    {
        await declarer.ExchangeDeclareAsync(exchange, ExchangeType.Direct, durable: true);
        await WaitForUpstreamBinding(exchange);
    }
}

var results = new Dictionary<string, List<Result>> { [Plugin] = [], [Ours] = [] };
Console.WriteLine($"{messages} messages of 256 bytes per path and round, {rounds} rounds, prefetch {PrefetchCount}, on-confirm");
Console.WriteLine($"{"round",-6}{"path",-30}{"msgs/s",10}{"p50 ms",10}{"p99 ms",10}{"CPU ms/1k msgs",16}");
for (var round = 1; round <= rounds; round++)
{
    // Alternate the order so that neither path always runs on a machine warmed (or loaded) by the other.
    string[] order = round % 2 == 1 ? [Plugin, Ours] : [Ours, Plugin];
    foreach (var exchange in order)
    {
        var result = await Measure(exchange);
        results[exchange].Add(result);
        Console.WriteLine($"{round,-6}{Name(exchange),-30}{result.Rate,10:F0}{result.P50,10:F1}{result.P99,10:F1}{Cpu(result.CpuPerThousand),16}");
    }
}

var plugin = Median(results[Plugin]);
var ours = Median(results[Ours]);
Console.WriteLine();
Console.WriteLine($"median of {rounds} rounds");
Console.WriteLine($"{"path",-36}{"msgs/s",10}{"p50 ms",10}{"p99 ms",10}{"CPU ms/1k msgs",16}");
Console.WriteLine($"{Name(Plugin),-36}{plugin.Rate,10:F0}{plugin.P50,10:F1}{plugin.P99,10:F1}{Cpu(plugin.CpuPerThousand),16}");
Console.WriteLine($"{Name(Ours),-36}{ours.Rate,10:F0}{ours.P50,10:F1}{ours.P99,10:F1}{Cpu(ours.CpuPerThousand),16}");
var cpuRatio = plugin.CpuPerThousand is > 0 && ours.CpuPerThousand is { } oursCpu ? $", CPU per message {oursCpu / plugin.CpuPerThousand.Value:F2}x" : "";
Console.WriteLine($"ratio (ours / plugin): throughput {ours.Rate / plugin.Rate:F2}x, p50 {ours.P50 / plugin.P50:F2}x, p99 {ours.P99 / plugin.P99:F2}x{cpuRatio}");
foreach (var sink in sinks.Values)
{
    await sink.DisposeAsync();
}

await upstream.CloseAsync();
await downstream.CloseAsync();
return 0;

async Task<Result> Measure(string exchange)
{
    await using var producer = await upstream.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
    var sink = sinks[exchange];
    var received = sink.StartRound();
    var body = new byte[256];
    var cpuBefore = CpuTime();
    var started = Stopwatch.GetTimestamp();
    var inFlight = new List<Task>(ProducerWindow);
    for (var i = 0; i < messages; i++)
    {
        BitConverter.TryWriteBytes(body, Stopwatch.GetTimestamp());
        inFlight.Add(producer.BasicPublishAsync(exchange, "k", body.ToArray()).AsTask());
        if (inFlight.Count == ProducerWindow)
        {
            await Task.WhenAll(inFlight);
            inFlight.Clear();
        }
    }

    await Task.WhenAll(inFlight);
    var latencies = await received.WaitAsync(TimeSpan.FromMinutes(5));
    var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
    var cpu = CpuTime() - cpuBefore;
    Array.Sort(latencies);
    return new Result(messages / seconds, latencies[messages / 2], latencies[(int)(messages * 0.99)], cpu?.TotalMilliseconds * 1000 / messages);
}

// CPU time of this process plus the brokers', or null when the brokers' ids are not given or not readable.
TimeSpan? CpuTime()
{
    if (brokerPids.Length == 0)
    {
        return null;
    }

    var total = Process.GetCurrentProcess().TotalProcessorTime;
    foreach (var pid in brokerPids)
    {
        var path = $"/proc/{pid}/stat";
        if (!File.Exists(path))
        {
            return null;
        }

        // utime and stime are fields 14 and 15, counted after the parenthesised command name, in clock ticks (USER_HZ, 100).
        var fields = File.ReadAllText(path).Split(')')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        total += TimeSpan.FromMilliseconds(ticks * 10);
    }

    return total;
}

async Task WaitForUpstreamBinding(string exchange)
{
    // The binding must have propagated before the load starts, or the first messages are not captured (true of the
    // plugin as well). Both federation implementations bind the upstream exchange to an exchange named "federation: ...".
    var upstreamAddress = new Uri(upstreamUri);
    var managementPort = System.Web.HttpUtility.ParseQueryString(upstreamAddress.Query)["management-port"] ?? "15672";
    using var http = new HttpClient { BaseAddress = new Uri($"http://{upstreamAddress.Host}:{managementPort}/") };
    var credentials = Uri.UnescapeDataString(upstreamAddress.UserInfo);
    http.DefaultRequestHeaders.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(credentials)));
    var deadline = DateTime.UtcNow.AddSeconds(60);
    while (true)
    {
        var json = await http.GetStringAsync($"api/exchanges/%2F/{Uri.EscapeDataString(exchange)}/bindings/source");
        if (json.Contains("\"destination\":\"federation: ", StringComparison.Ordinal) && json.Contains("\"routing_key\":\"k\"", StringComparison.Ordinal))
        {
            return;
        }

        if (DateTime.UtcNow > deadline)
        {
            throw new TimeoutException($"No upstream binding for {exchange}: {json}");
        }

        await Task.Delay(200);
    }
}

static string Name(string exchange) => exchange == Plugin ? "RabbitMQ federation plugin" : "Federation.Core link";

static string Cpu(double? perThousand) => perThousand is { } value ? value.ToString("F0", CultureInfo.InvariantCulture) : "-";

static Result Median(List<Result> results)
{
    static double Middle(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    var cpu = results.All(r => r.CpuPerThousand is not null) ? Middle(results.Select(r => r.CpuPerThousand!.Value)) : (double?)null;
    return new Result(Middle(results.Select(r => r.Rate)), Middle(results.Select(r => r.P50)), Middle(results.Select(r => r.P99)), cpu);
}

static async Task<IConnection> Connect(string uri)
{
    var clean = uri.Split('?')[0];
    return await new ConnectionFactory { Uri = new Uri(clean) }.CreateConnectionAsync();
}

/// <summary>One path's figures for one round: msgs/s, p50 and p99 latency in ms, and CPU ms per 1,000 messages.</summary>
internal sealed record Result(double Rate, double P50, double P99, double? CpuPerThousand);

/// <summary>
/// The downstream consumer of one path. Its queue and binding live for the whole run, so the federated binding upstream
/// never comes and goes between rounds; each round records the latency of its messages.
/// </summary>
internal sealed class Sink : IAsyncDisposable
{
    private readonly IChannel channel;
    private readonly int messages;
    private Round? current;

    private Sink(IChannel channel, int messages)
    {
        this.channel = channel;
        this.messages = messages;
    }

    public static async Task<Sink> StartAsync(IConnection downstream, string exchange, int messages)
    {
        var channel = await downstream.CreateChannelAsync();
        await channel.ExchangeDeclareAsync(exchange, ExchangeType.Direct, durable: true);
        var queue = (await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
        await channel.QueueBindAsync(queue, exchange, "k");
        var sink = new Sink(channel, messages);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            sink.current?.Record(BitConverter.ToInt64(delivery.Body.Span[..8]));
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(queue, autoAck: true, consumer);
        return sink;
    }

    /// <summary>Starts counting a new round; the task completes with the latencies once all its messages arrived.</summary>
    public Task<double[]> StartRound()
    {
        var round = new Round(messages);
        current = round;
        return round.Completed;
    }

    public async ValueTask DisposeAsync()
    {
        await channel.CloseAsync();
        channel.Dispose();
    }

    private sealed class Round(int messages)
    {
        private readonly double[] latencies = new double[messages];
        private readonly TaskCompletionSource<double[]> done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int received;

        public Task<double[]> Completed => done.Task;

        public void Record(long sentTimestamp)
        {
            var index = Interlocked.Increment(ref received) - 1;
            if (index < latencies.Length)
            {
                latencies[index] = Stopwatch.GetElapsedTime(sentTimestamp).TotalMilliseconds;
            }

            if (index + 1 == latencies.Length)
            {
                done.TrySetResult(latencies);
            }
        }
    }
}
