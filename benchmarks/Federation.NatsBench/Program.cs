// NATS benchmarks against real nats-servers that benchmarks/nats-bench.sh starts, all measured in one run:
// (a) raw pub/sub on one server, our client (Federation.Nats) against the npm "nats" client, 128 B and 1 KiB;
// (b) forwarding from HUB to LEAF, native leafnode forwarding (subjects "leaf.>") against our link (the federation
//     engine with the NATS transport in this process; namespaces "ours" with ack-mode no-ack, "confirm" with
//     on-confirm); the leafnode denies "ours.>" and "confirm.>" so each message takes exactly one path.
// Prints msgs/s, p50 and p99 for every path, and the ratios.
// Every figure is the median (by throughput) of ROUNDS runs, the paths interleaved.
// Usage: Federation.NatsBench SINGLE_URL HUB_URL LEAF_URL LEAF_MONITOR_PORT NODE_DRIVER [COUNT] [WINDOW] [ROUNDS]
using System.Globalization;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.NatsBench;
using Federation.Nats.Transport;

if (args.Length < 5)
{
    Console.Error.WriteLine("usage: Federation.NatsBench SINGLE_URL HUB_URL LEAF_URL LEAF_MONITOR_PORT NODE_DRIVER [COUNT] [WINDOW] [ROUNDS]");
    return 64;
}

var (single, hub, leaf, leafMonitor, driver) = (args[0], args[1], args[2], args[3], args[4]);
var count = args.Length > 5 ? int.Parse(args[5], CultureInfo.InvariantCulture) : 200_000;
var window = args.Length > 6 ? int.Parse(args[6], CultureInfo.InvariantCulture) : 2_000;
var rounds = args.Length > 7 ? int.Parse(args[7], CultureInfo.InvariantCulture) : 3;
using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(20));
var token = cancel.Token;

Console.WriteLine($"(a) raw pub/sub on one nats-server, {count} messages per run, median of {rounds} rounds");
var raw = new List<(BenchResult Ours, BenchResult Npm)>();
// NATSBENCH_ONLY=forwarding skips (a), e.g. to profile the link alone.
foreach (var size in Environment.GetEnvironmentVariable("NATSBENCH_ONLY") == "forwarding" ? [] : new[] { 128, 1024 })
{
    // Warm-up (JIT, connection setup) outside the measurement, for both clients.
    await RawPubSub.OursAsync(single, Math.Min(count, 20_000), size, token);
    await RawPubSub.NpmAsync(driver, single, Math.Min(count, 20_000), size, token);
    var ours = new List<BenchResult>();
    var npm = new List<BenchResult>();
    for (var round = 0; round < rounds; round++)
    {
        ours.Add(await RawPubSub.OursAsync(single, count, size, token));
        npm.Add(await RawPubSub.NpmAsync(driver, single, count, size, token));
        Console.WriteLine($"  round {round + 1}, {size} B: ours {ours[^1].MessagesPerSecond,10:F0} msgs/s, npm {npm[^1].MessagesPerSecond,10:F0} msgs/s");
    }

    raw.Add((BenchResult.Median(ours), BenchResult.Median(npm)));
}

var forwardSize = 128;
Console.WriteLine($"(b) forwarding hub -> leaf, {count} messages of {forwardSize} B, at most {window} in flight");
var options = new FederationOptions { Downstream = { Uri = $"{leaf}?cluster-name=bench-leaf&monitor-port={leafMonitor}&monitor-interval-ms=100&namespaces=ours,confirm" } };
options.Upstreams["no-ack"] = new UpstreamDefinition { Uris = { $"{hub}?cluster-name=bench-hub&namespaces=ours,confirm" }, AckMode = AckMode.NoAck, PrefetchCount = window };
options.Upstreams["on-confirm"] = new UpstreamDefinition { Uris = { $"{hub}?cluster-name=bench-hub&namespaces=ours,confirm" }, AckMode = AckMode.OnConfirm, PrefetchCount = window };
options.Policies["ours"] = new FederationPolicy { Pattern = "^ours$", ApplyTo = "exchanges", Definition = { FederationUpstream = "no-ack" } };
options.Policies["confirm"] = new FederationPolicy { Pattern = "^confirm$", ApplyTo = "exchanges", Definition = { FederationUpstream = "on-confirm" } };
await using var engine = new FederationEngine(options, [new NatsTransport()]);
await engine.StartAsync(token);
var deadline = DateTime.UtcNow.AddSeconds(30);
while (engine.GetLinks() is not { Count: 2 } links || links.Any(l => l.State != LinkState.Running))
{
    if (DateTime.UtcNow > deadline)
    {
        throw new TimeoutException("links not running: " + string.Join(", ", engine.GetLinks().Select(l => $"{l.Id} {l.State} {l.Error}")));
    }

    await Task.Delay(50, token);
}

// Warm-up of each path, then rounds that interleave the paths (the machine is shared and noisy: no path always
// runs first or last), and the median round of each path.
var paths = new (string Name, string Subject)[] { ("nats-server leafnode", "leaf.k"), ("Federation.Core link, no-ack", "ours.k"), ("Federation.Core link, on-confirm", "confirm.k") };
var runs = paths.ToDictionary(p => p.Name, _ => new List<BenchResult>());
foreach (var (name, subject) in paths)
{
    await Forwarding.MeasureAsync(name, hub, leaf, subject, Math.Min(count, 50_000), forwardSize, window, token);
}

for (var round = 0; round < rounds; round++)
{
    for (var i = 0; i < paths.Length; i++)
    {
        var (name, subject) = paths[(i + round) % paths.Length];
        var run = await Forwarding.MeasureAsync(name, hub, leaf, subject, count, forwardSize, window, token);
        Console.WriteLine($"  round {round + 1}: {name,-34}{run.MessagesPerSecond,10:F0} msgs/s");
        runs[name].Add(run);
    }
}

var leafnode = BenchResult.Median(runs[paths[0].Name]);
var linkNoAck = BenchResult.Median(runs[paths[1].Name]);
var linkConfirm = BenchResult.Median(runs[paths[2].Name]);

Console.WriteLine();
Console.WriteLine($"{"path",-36}{"size",6}{"msgs/s",12}{"p50 ms",10}{"p99 ms",10}");
foreach (var r in raw.SelectMany(p => new[] { p.Npm, p.Ours }).Concat([leafnode, linkNoAck, linkConfirm]))
{
    Console.WriteLine($"{r.Name,-36}{r.Size,6}{r.MessagesPerSecond,12:F0}{r.P50Ms,10:F2}{r.P99Ms,10:F2}");
}

Console.WriteLine();
foreach (var (ours, npm) in raw)
{
    Console.WriteLine($"ratio client (ours / npm), {ours.Size} B: throughput {ours.MessagesPerSecond / npm.MessagesPerSecond:F2}x, p50 {ours.P50Ms / npm.P50Ms:F2}x, p99 {ours.P99Ms / npm.P99Ms:F2}x   (goal: throughput >= 1.00x)");
}

foreach (var link in new[] { linkNoAck, linkConfirm })
{
    Console.WriteLine($"ratio {link.Name} / leafnode: throughput {link.MessagesPerSecond / leafnode.MessagesPerSecond:F2}x, p50 {link.P50Ms / leafnode.P50Ms:F2}x, p99 {link.P99Ms / leafnode.P99Ms:F2}x   (goal: throughput >= 0.50x)");
}

return 0;
