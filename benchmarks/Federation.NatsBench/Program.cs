// NATS benchmarks against real nats-servers that benchmarks/nats-bench.sh starts, all measured in one run:
// (a) core forwarding from HUB to LEAF: native leafnode forwarding against our link (no-ack and on-confirm):
//     msgs/s saturated, p50/p99 paced below saturation, CPU per 100k messages (both servers + this process), lost;
// (b) durable forwarding from HUB to LEAF, both with JetStream in their own domain: native stream sourcing against
//     our durable link (jetstream=true): msgs/s from the first publish until all are in the downstream stream;
// (c) raw pub/sub on one server: the official NATS.Client.Core client (and the hand-written one while it exists)
//     against the npm "nats" client.
// Rounds interleave the paths (the machine is shared and noisy); every figure is a median over the rounds, every
// ratio is against the reference measured in the same run, and lost messages are summed over all rounds.
// Usage: see BenchOptions.Usage (the script passes every option).
using Federation.NatsBench;

BenchOptions o;
try
{
    o = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 64;
}

using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(30));
var token = cancel.Token;
var cpu = ProcessCpu.FromEnvironment();
Console.WriteLine($"CPU is summed over pids {string.Join(",", cpu.ProcessIds)} (hub, leaf, this process: load generator and, on link paths, the link)");

IReadOnlyList<PathRuns>? saturated = null, paced = null;
if (o.Parts.Contains("core"))
{
    (saturated, paced) = await CoreLinkBench.RunAsync(o, cpu, token);
}

PathRuns? native = null, durable = null;
string? durableUnavailable = null;
if (o.Parts.Contains("durable"))
{
    (native, durable, durableUnavailable) = await DurableLinkBench.RunAsync(o, cpu, token);
}

var raw = new List<(int Size, List<PathRuns> Clients)>();
if (o.Parts.Contains("raw"))
{
    var rawCount = Math.Min(o.Messages, 200_000);
    Console.WriteLine($"(c) raw pub/sub on one nats-server, {rawCount} messages per run, {o.Rounds} interleaved rounds");
    foreach (var size in new[] { 128, 1024 })
    {
        var clients = new List<(PathRuns Runs, Func<int, Task<BenchResult>> Measure)>
        {
            (new PathRuns("npm nats 2.29.3 client (reference)"), n => RawPubSub.NpmAsync(o.NodeDriver, o.SingleUrl, n, size, token)),
            (new PathRuns("NATS.Client.Core 3.3.2 client"), n => RawPubSub.OfficialAsync(o.SingleUrl, n, size, token)),
        };
#if HAND_WRITTEN_CLIENT
        clients.Add((new PathRuns("Federation.Nats hand-written client"), n => RawPubSub.HandWrittenAsync(o.SingleUrl, n, size, token)));
#endif
        foreach (var (_, measure) in clients)
        {
            await measure(Math.Min(rawCount, 20_000)); // warm-up
        }

        for (var round = 0; round < o.Rounds; round++)
        {
            for (var i = 0; i < clients.Count; i++)
            {
                var (runs, measure) = clients[(i + round) % clients.Count];
                var run = await measure(rawCount);
                runs.Add(run);
                Console.WriteLine($"  round {round + 1}, {size} B: {runs.Name,-36}{run.MessagesPerSecond,10:F0} msgs/s");
            }
        }

        raw.Add((size, clients.Select(c => c.Runs).ToList()));
    }
}

Console.WriteLine();
Console.WriteLine($"Medians of {o.Rounds} rounds; lost and dup are totals over all rounds (of 'sent').");
if (saturated is not null && paced is not null)
{
    Console.WriteLine();
    Console.WriteLine($"(a) core forwarding, {o.Size} B: saturated {o.Messages} per run (window {o.Window}); latency paced at {o.PacedRate} msg/s ({o.PacedMessages} per run)");
    Console.WriteLine($"{"path",-36}{"msgs/s",10}{"CPU ms/100k",13}{"p50 ms",9}{"p99 ms",9}{"sent",11}{"lost",8}{"dup",6}{"paced sent",12}{"paced lost",12}");
    for (var i = 0; i < saturated.Count; i++)
    {
        var (s, p) = (saturated[i], paced[i]);
        Console.WriteLine($"{s.Name,-36}{s.MessagesPerSecond,10:F0}{s.CpuMsPer100k,13:F0}{p.P50Ms,9:F2}{p.P99Ms,9:F2}{s.Sent,11}{s.Lost,8}{s.Duplicates + p.Duplicates,6}{p.Sent,12}{p.Lost,12}");
    }

    var (leafSat, leafPaced) = (saturated[0], paced[0]);
    for (var i = 1; i < saturated.Count; i++)
    {
        var (s, p) = (saturated[i], paced[i]);
        var lost = s.Lost + p.Lost;
        Console.WriteLine($"RATIO (a) {s.Name} / leafnode: msgs/s {s.MessagesPerSecond / leafSat.MessagesPerSecond:F2}x (median of per-round ratios {PathRuns.MedianRatio(s, leafSat, r => r.MessagesPerSecond):F2}x), " +
            $"CPU/100k {s.CpuMsPer100k / leafSat.CpuMsPer100k:F2}x (per round {PathRuns.MedianRatio(s, leafSat, r => r.CpuMsPer100k):F2}x), " +
            $"paced p50 {p.P50Ms / leafPaced.P50Ms:F2}x, p99 {p.P99Ms / leafPaced.P99Ms:F2}x; lost {lost} (leafnode {leafSat.Lost + leafPaced.Lost})   " +
            (s.Name is CoreLinkBench.FloorName or CoreLinkBench.FloorTrailName
                ? "(no federation: what the official client alone reaches here, a ceiling for any link on it)"
                : $"goal >= 0.80x with 0 lost: {(s.MessagesPerSecond / leafSat.MessagesPerSecond >= 0.8 && lost == 0 ? "met" : "NOT met")}"));
    }
}

if (native is not null)
{
    Console.WriteLine();
    Console.WriteLine($"(b) durable forwarding, {o.Size} B, {o.DurableMessages} per run: publish into the hub stream until all are in the leaf stream");
    Console.WriteLine($"{"path",-44}{"msgs/s",10}{"CPU ms/100k",13}{"sent",11}{"lost",8}{"dup",6}");
    foreach (var r in durable is null ? [native] : new[] { native, durable })
    {
        Console.WriteLine($"{r.Name,-44}{r.MessagesPerSecond,10:F0}{r.CpuMsPer100k,13:F0}{r.Sent,11}{r.Lost,8}{r.Duplicates,6}");
    }

    Console.WriteLine(durable is null
        ? "RATIO (b) durable link / JetStream sourcing: UNAVAILABLE in this build (the reason is printed above)"
        : $"RATIO (b) {durable.Name} / JetStream sourcing: msgs/s {durable.MessagesPerSecond / native.MessagesPerSecond:F2}x (median of per-round ratios {PathRuns.MedianRatio(durable, native, r => r.MessagesPerSecond):F2}x), " +
          $"CPU/100k {durable.CpuMsPer100k / native.CpuMsPer100k:F2}x; " +
          $"lost {durable.Lost}, dup {durable.Duplicates}   goal >= 0.80x: {(durable.MessagesPerSecond / native.MessagesPerSecond >= 0.8 ? "met" : "NOT met")}");
}

foreach (var (size, clients) in raw)
{
    Console.WriteLine();
    Console.WriteLine($"(c) raw pub/sub, {size} B (latency is under saturation: mostly queueing)");
    foreach (var c in clients)
    {
        Console.WriteLine($"{c.Name,-44}{c.MessagesPerSecond,10:F0} msgs/s  p50 {c.P50Ms,8:F2} ms  p99 {c.P99Ms,8:F2} ms");
    }

    foreach (var c in clients.Skip(1))
    {
        Console.WriteLine($"RATIO (c) {c.Name} / npm, {size} B: throughput {c.MessagesPerSecond / clients[0].MessagesPerSecond:F2}x");
    }
}

// A missing durable link fails the run, after everything that could be measured is printed.
return durableUnavailable is null ? 0 : 3;
