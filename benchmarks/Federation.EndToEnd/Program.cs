// Sends the same load through federated exchanges between the same two RabbitMQ nodes, in one run:
// "bench.plugin" is federated by RabbitMQ's own federation plugin, "bench.ours" by a Federation.Core link in this process,
// and "bench.host" (when --host-pid is given) by a FederationHost process, the link as it is deployed.
// All use ack-mode on-confirm, prefetch 1000 and 256-byte messages. Each round measures every path saturated and then
// paced at each rate, rotating the order of the paths from round to round; the summary gives the median of each path
// and the ratios of the medians against the plugin.
// Usage: Federation.EndToEnd UPSTREAM_URI DOWNSTREAM_URI [MESSAGES] [ROUNDS] [--broker-pid PID]... [--host-pid PID]
//        [--rates 1000,5000,10000] [--paced-seconds 4] [--paths plugin,ours,host] [--no-duplicate-suppression]
// With the process ids, it also reports the CPU time (Linux /proc) that the brokers, the FederationHost process and this
// process (the load generator, plus the in-process link on its path) spent per 100,000 messages.
using System.Diagnostics;
using System.Globalization;
using Federation.Amqp;
using Federation.Benchmarking;
using Federation.Core;
using Federation.Core.Model;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

const string Plugin = "bench.plugin";
const string Ours = "bench.ours";
const string Host = "bench.host";
const int PrefetchCount = 1000; // The plugin's default prefetch-count; the script configures the plugin with it too.
const int ProducerWindow = 256; // Confirmed publishes in flight from the load generator when saturating.
const int PacedWindow = 1000; // At most this many unconfirmed publishes when paced (never reached below saturation).
const int WarmUpMessages = 5000;

var positional = new List<string>();
var brokerPids = new List<int>();
int? hostPid = null;
int[] rates = [1000, 5000, 10000];
var pacedSeconds = 4.0;
string[]? onlyPaths = null; // e.g. --paths host: only those paths (for profiling one of them); ratios need the plugin
var duplicateSuppression = true; // --no-duplicate-suppression: the plugin's own at-least-once, for a like-for-like comparison
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--broker-pid": brokerPids.Add(int.Parse(args[++i], CultureInfo.InvariantCulture)); break;
        case "--host-pid": hostPid = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--rates": rates = [.. args[++i].Split(',').Select(rate => int.Parse(rate, CultureInfo.InvariantCulture))]; break;
        case "--paced-seconds": pacedSeconds = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--paths": onlyPaths = [.. args[++i].Split(',').Select(path => $"bench.{path}")]; break;
        case "--no-duplicate-suppression": duplicateSuppression = false; break;
        default: positional.Add(args[i]); break;
    }
}

var upstreamUri = positional[0];
var downstreamUri = positional[1];
var messages = positional.Count > 2 ? int.Parse(positional[2], CultureInfo.InvariantCulture) : 20_000;
var rounds = positional.Count > 3 ? int.Parse(positional[3], CultureInfo.InvariantCulture) : 3;

var options = new FederationOptions { Downstream = { Uri = downstreamUri } };
options.Upstreams["upstream"] = new UpstreamDefinition { Uris = { upstreamUri }, AckMode = AckMode.OnConfirm, PrefetchCount = PrefetchCount, DuplicateSuppression = duplicateSuppression };
options.Policies["ours"] = new FederationPolicy { Pattern = "^bench\\.ours$", ApplyTo = "exchanges", Definition = { FederationUpstream = "upstream" } };
await using var engine = new FederationEngine(options, [new AmqpTransport()]);
await engine.StartAsync(CancellationToken.None);

string[] paths = hostPid is null ? [Plugin, Ours] : [Plugin, Ours, Host];
paths = onlyPaths is null ? paths : [.. paths.Where(onlyPaths.Contains)];
var upstream = await Connect(upstreamUri);
var downstream = await Connect(downstreamUri);
var sinks = new Dictionary<string, Sink>();
foreach (var path in paths)
{
    sinks[path] = await Sink.StartAsync(downstream, path);
}

await using (var declarer = await upstream.CreateChannelAsync())
{
    foreach (var exchange in paths)
    {
        await declarer.ExchangeDeclareAsync(exchange, ExchangeType.Direct, durable: true);
        await WaitForUpstreamBinding(exchange);
    }
}

// Modes: saturated (rate 0), then each paced rate.
int[] modes = [0, .. rates];
var results = paths.ToDictionary(path => path, _ => modes.ToDictionary(mode => mode, _ => new List<Result>()));
Console.WriteLine($"load average {File.ReadAllText("/proc/loadavg").Trim()}");
Console.WriteLine($"saturated: {messages} messages of 256 bytes per path and round, {ProducerWindow} confirmed publishes in flight; paced: {pacedSeconds} s at each of {string.Join(", ", rates)} msg/s; {rounds} rounds, prefetch {PrefetchCount}, on-confirm");
foreach (var path in paths)
{
    // Not measured: JIT, connection warm-up and the first queue growth of each path.
    await Measure(path, 0, WarmUpMessages);
}

Console.WriteLine($"{"round",-6}{"mode",-12}{"path",-30}{"msgs/s",10}{"p50 ms",10}{"p99 ms",10}{"CPU brokers",13}{"CPU host",10}{"CPU load",10}{"host cs/msg",13}  (CPU in ms per 100k msgs; cs = context switches)");
for (var round = 1; round <= rounds; round++)
{
    foreach (var mode in modes)
    {
        // Rotate the order so that no path always runs first (or on a machine warmed or loaded by another).
        var order = paths.Skip((round - 1) % paths.Length).Concat(paths.Take((round - 1) % paths.Length));
        foreach (var path in order)
        {
            var count = mode == 0 ? messages : (int)(mode * pacedSeconds);
            var result = await Measure(path, mode, count);
            results[path][mode].Add(result);
            Console.WriteLine($"{round,-6}{ModeName(mode),-12}{Name(path),-30}{result.Rate,10:F0}{result.P50,10:F2}{result.P99,10:F2}{Cpu(result.CpuBrokers),13}{Cpu(result.CpuHost),10}{Cpu(result.CpuLoad),10}{Switches(result.HostSwitches),13}");
        }
    }
}

Console.WriteLine();
Console.WriteLine($"median of {rounds} rounds (CPU in ms per 100k msgs; 'link total' = brokers + the link's process: the host process on the");
Console.WriteLine("FederationHost path, this process minus the load generator's own CPU on the plugin path of the same round for the in-process link)");
Console.WriteLine($"{"mode",-12}{"path",-30}{"msgs/s",10}{"p50 ms",10}{"p99 ms",10}{"CPU brokers",13}{"CPU host",10}{"CPU load",10}{"link total",12}{"host cs/msg",13}");
var medians = paths.ToDictionary(path => path, path => modes.ToDictionary(mode => mode, mode => Median(results[path][mode], results.GetValueOrDefault(Plugin)?[mode], path)));
foreach (var mode in modes)
{
    foreach (var path in paths)
    {
        var m = medians[path][mode];
        Console.WriteLine($"{ModeName(mode),-12}{Name(path),-30}{m.Rate,10:F0}{m.P50,10:F2}{m.P99,10:F2}{Cpu(m.CpuBrokers),13}{Cpu(m.CpuHost),10}{Cpu(m.CpuLoad),10}{Cpu(m.LinkTotal),12}{Switches(m.HostSwitches),13}");
    }
}

Console.WriteLine();
Console.WriteLine("ratios against the plugin (medians of this run; goals: p50 and p99 at 5,000 msg/s <= 1.0x, saturated throughput >= 1.5x, CPU <= 1.0x)");
foreach (var path in paths.Where(path => path != Plugin && paths.Contains(Plugin)))
{
    var plugin = medians[Plugin];
    var ours = medians[path];
    var parts = new List<string> { $"saturated throughput {ours[0].Rate / plugin[0].Rate:F2}x" };
    parts.AddRange(rates.Select(rate => $"p50/p99 at {rate}/s {ours[rate].P50 / plugin[rate].P50:F2}x/{ours[rate].P99 / plugin[rate].P99:F2}x"));
    parts.AddRange(modes.Where(mode => ours[mode].LinkTotal is not null && plugin[mode].LinkTotal is > 0)
        .Select(mode => $"CPU/100k {ModeName(mode)} {ours[mode].LinkTotal!.Value / plugin[mode].LinkTotal!.Value:F2}x"));
    Console.WriteLine($"{Name(path)}: {string.Join(", ", parts)}");
}

foreach (var sink in sinks.Values)
{
    await sink.DisposeAsync();
}

await upstream.CloseAsync();
await downstream.CloseAsync();
return 0;

async Task<Result> Measure(string exchange, int rate, int count)
{
    await using var producer = await upstream.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
    var sink = sinks[exchange];
    var received = sink.StartRound(count);
    var body = new byte[256];
    var brokersBefore = BrokerCpu();
    var hostBefore = hostPid is { } host ? ProcessCpu(host) : null;
    var switchesBefore = exchange == Host && hostPid is { } hostForSwitches ? ContextSwitches(hostForSwitches) : null;
    var loadBefore = Process.GetCurrentProcess().TotalProcessorTime;
    var started = Stopwatch.GetTimestamp();
    var inFlight = new Queue<Task>();
    var window = rate == 0 ? ProducerWindow : PacedWindow;

    // Paced: message i is due i/rate seconds after the start, released one at a time (not in timer-tick bursts).
    using var pacer = rate > 0 ? new SteadyPacer(rate, count) : null;
    for (var i = 0; i < count; i++)
    {
        if (pacer is not null)
        {
            await pacer.WaitAsync(CancellationToken.None);
        }

        BitConverter.TryWriteBytes(body, Stopwatch.GetTimestamp());
        inFlight.Enqueue(producer.BasicPublishAsync(exchange, "k", body.ToArray()).AsTask());
        if (rate == 0 && inFlight.Count == window)
        {
            await Task.WhenAll(inFlight);
            inFlight.Clear();
        }
        else if (inFlight.Count >= window)
        {
            await inFlight.Dequeue();
        }

        while (rate > 0 && inFlight.TryPeek(out var oldest) && oldest.IsCompleted)
        {
            await inFlight.Dequeue();
        }
    }

    await Task.WhenAll(inFlight);
    var latencies = await received.WaitAsync(TimeSpan.FromMinutes(5));
    var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
    var perHundredThousand = 100_000.0 / count;
    var brokers = BrokerCpu() - brokersBefore;
    var hostCpu = exchange == Host && hostPid is { } hostId ? ProcessCpu(hostId) - hostBefore : null;
    var switches = exchange == Host && hostPid is { } hostIdForSwitches ? ContextSwitches(hostIdForSwitches) - switchesBefore : null;
    var load = Process.GetCurrentProcess().TotalProcessorTime - loadBefore;
    Array.Sort(latencies);
    return new Result(count / seconds, latencies[count / 2], latencies[(int)(count * 0.99)],
        brokers?.TotalMilliseconds * perHundredThousand, hostCpu?.TotalMilliseconds * perHundredThousand, load.TotalMilliseconds * perHundredThousand, null)
    {
        HostSwitches = switches / (double)count,
    };
}

// CPU time of the brokers, or null when their ids are not given or not readable.
TimeSpan? BrokerCpu()
{
    if (brokerPids.Count == 0)
    {
        return null;
    }

    var total = TimeSpan.Zero;
    foreach (var pid in brokerPids)
    {
        if (ProcessCpu(pid) is not { } cpu)
        {
            return null;
        }

        total += cpu;
    }

    return total;
}

// Context switches of all of a process's threads so far (voluntary and involuntary, from /proc/<pid>/task/*/status), or
// null when not readable. Threads that ended meanwhile are not counted, which the host's long-lived threads make rare.
static long? ContextSwitches(int pid)
{
    try
    {
        long total = 0;
        foreach (var task in Directory.GetDirectories($"/proc/{pid}/task"))
        {
            foreach (var line in File.ReadLines(Path.Combine(task, "status")))
            {
                if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                {
                    total += long.Parse(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim(), CultureInfo.InvariantCulture);
                }
            }
        }

        return total;
    }
    catch (IOException)
    {
        return null;
    }
    catch (UnauthorizedAccessException)
    {
        return null;
    }
}

// User + system CPU time of a process from /proc/<pid>/stat: fields 14 and 15, counted after the parenthesised command
// name, in clock ticks (USER_HZ, 100).
static TimeSpan? ProcessCpu(int pid)
{
    var path = $"/proc/{pid}/stat";
    if (!File.Exists(path))
    {
        return null;
    }

    var fields = File.ReadAllText(path).Split(')')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
    var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    return TimeSpan.FromMilliseconds(ticks * 10);
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

static string Name(string exchange) => exchange switch
{
    Plugin => "RabbitMQ federation plugin",
    Ours => "Federation.Core link, in-process",
    _ => "FederationHost process",
};

static string ModeName(int rate) => rate == 0 ? "saturated" : $"{rate}/s";

static string Cpu(double? perHundredThousand) => perHundredThousand is { } value ? value.ToString("F0", CultureInfo.InvariantCulture) : "-";

static string Switches(double? perMessage) => perMessage is { } value ? value.ToString("F1", CultureInfo.InvariantCulture) : "-";

static double Middle(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
}

static double? MiddleOrNull(IEnumerable<double?> values)
{
    var list = values.ToList();
    return list.All(value => value is not null) ? Middle(list.Select(value => value!.Value)) : null;
}

// The median of each column; 'link total' is brokers plus the link's own process: nothing for the plugin (it runs inside
// the broker), the host process for FederationHost, and for the in-process link this process minus what the load
// generator alone spent on the plugin's path in the same round and mode.
static Result Median(List<Result> results, List<Result>? pluginResults, string path)
{
    var linkTotals = results.Select((result, round) => path switch
    {
        Plugin => result.CpuBrokers,
        Host => result.CpuBrokers + result.CpuHost,
        _ => result.CpuBrokers + (result.CpuLoad - pluginResults?[round].CpuLoad),
    });
    return new Result(Middle(results.Select(r => r.Rate)), Middle(results.Select(r => r.P50)), Middle(results.Select(r => r.P99)),
        MiddleOrNull(results.Select(r => r.CpuBrokers)), MiddleOrNull(results.Select(r => r.CpuHost)), MiddleOrNull(results.Select(r => r.CpuLoad)), MiddleOrNull(linkTotals))
    {
        HostSwitches = MiddleOrNull(results.Select(r => r.HostSwitches)),
    };
}

static async Task<IConnection> Connect(string uri)
{
    var clean = uri.Split('?')[0];
    return await new ConnectionFactory { Uri = new Uri(clean) }.CreateConnectionAsync();
}

/// <summary>One path's figures for one round and mode: msgs/s, p50 and p99 latency in ms, and CPU ms per 100,000 messages.
/// <c>HostSwitches</c>: context switches of the FederationHost process's threads per message (voluntary and not), the
/// thread wake-ups a forward costs.</summary>
internal sealed record Result(double Rate, double P50, double P99, double? CpuBrokers, double? CpuHost, double? CpuLoad, double? LinkTotal)
{
    public double? HostSwitches { get; init; }
}

/// <summary>
/// The downstream consumer of one path. Its queue and binding live for the whole run, so the federated binding upstream
/// never comes and goes between rounds; each round records the latency of its messages.
/// </summary>
internal sealed class Sink : IAsyncDisposable
{
    private readonly IChannel channel;
    private Round? current;

    private Sink(IChannel channel)
    {
        this.channel = channel;
    }

    public static async Task<Sink> StartAsync(IConnection downstream, string exchange)
    {
        var channel = await downstream.CreateChannelAsync();
        await channel.ExchangeDeclareAsync(exchange, ExchangeType.Direct, durable: true);
        var queue = (await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
        await channel.QueueBindAsync(queue, exchange, "k");
        var sink = new Sink(channel);
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
    public Task<double[]> StartRound(int messages)
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
