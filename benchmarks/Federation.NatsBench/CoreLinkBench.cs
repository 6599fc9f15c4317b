using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Transport;
using NATS.Client.Core;

namespace Federation.NatsBench;

/// <summary>
/// (a) Core NATS forwarding hub -> leaf: native leafnode forwarding (subjects "leaf.>") against our link (the
/// federation engine with the NATS transport in this process; namespace "ours" with ack-mode no-ack, "confirm" with
/// on-confirm), and the floor any link on the official client stands on (<see cref="FloorForwarder"/>, "floor"). The
/// leafnode denies "ours.>", "confirm.>" and "floor.>" both ways, so each message takes exactly one path.
/// Each round runs every path saturated, then every path paced, the order rotating from round to round.
/// </summary>
internal static class CoreLinkBench
{
    public const string LeafnodeName = "nats-server leafnode (reference)";

    /// <summary>The paths of <see cref="FloorForwarder"/>: no federation, the least any link on the official client costs.</summary>
    public const string FloorName = "floor: NATS.Client.Core forwarder";

    /// <summary>The same, writing a one-hop trail header as every link must.</summary>
    public const string FloorTrailName = "floor: forwarder + trail header";

    /// <summary>Unmeasured saturated runs of every path, at the measured size, before the first round.</summary>
    private const int WarmUpRuns = 2;

    public static async Task<(IReadOnlyList<PathRuns> Saturated, IReadOnlyList<PathRuns> Paced)> RunAsync(BenchOptions o, ProcessCpu cpu, CancellationToken token)
    {
        Console.WriteLine($"(a) core forwarding hub -> leaf: {o.Messages} x {o.Size} B saturated (at most {o.Window} in flight), " +
            $"{o.PacedMessages} paced at {o.PacedRate} msg/s, {o.Rounds} interleaved rounds");
        var options = new FederationOptions { Downstream = { Uri = $"{o.LeafUrl}?cluster-name=bench-leaf&monitor-port={o.LeafMonitorPort}&monitor-interval-ms=100&namespaces=ours,confirm" } };
        options.Upstreams["no-ack"] = new UpstreamDefinition { Uris = { $"{o.HubUrl}?cluster-name=bench-hub&namespaces=ours,confirm" }, AckMode = AckMode.NoAck, PrefetchCount = o.Window };
        options.Upstreams["on-confirm"] = new UpstreamDefinition { Uris = { $"{o.HubUrl}?cluster-name=bench-hub&namespaces=ours,confirm" }, AckMode = AckMode.OnConfirm, PrefetchCount = o.Window };
        options.Policies["ours"] = new FederationPolicy { Pattern = "^ours$", ApplyTo = "exchanges", Definition = { FederationUpstream = "no-ack" } };
        options.Policies["confirm"] = new FederationPolicy { Pattern = "^confirm$", ApplyTo = "exchanges", Definition = { FederationUpstream = "on-confirm" } };
        await using var engine = new FederationEngine(options, [new NatsTransport()]);
        await engine.StartAsync(token);
        await LinkWait.RunningAsync(engine, 2, TimeSpan.FromSeconds(30), token);

        // The floor: the official client alone forwarding "floor.>" (the leafnode denies it too), in this process like the link.
        await using var floorFrom = new NatsConnection(NatsOpts.Default with { Url = o.HubUrl, Name = "bench-floor-in" });
        await using var floorTo = new NatsConnection(NatsOpts.Default with { Url = o.LeafUrl, Name = "bench-floor-out" });
        await floorTo.ConnectAsync();
        await using var floor = await FloorForwarder.StartAsync(floorFrom, floorTo, "floor.>", token);

        var paths = new (string Name, string Subject)[]
        {
            (LeafnodeName, "leaf.k"), ("Federation.Core link, no-ack", "ours.k"), ("Federation.Core link, on-confirm", "confirm.k"), (FloorName, "floor.k"), (FloorTrailName, "floor.trail"),
        };
        var saturated = paths.Select(p => new PathRuns(p.Name)).ToArray();
        var paced = paths.Select(p => new PathRuns(p.Name)).ToArray();

        // Warm-up of each path (JIT, connections, interest, buffers) outside the measurement: two full-size runs per path.
        // With 20,000 messages per path the first measured round ran every in-process path (the load generator included,
        // so the reference too) at a third to a half of the later rounds' rate: tiered compilation was still promoting
        // the hot methods (7 Dec 2026, results/nats-core-7dec-evening.txt and the runs before it).
        for (var warmUp = 0; warmUp < WarmUpRuns; warmUp++)
        {
            foreach (var (name, subject) in paths)
            {
                await Forwarding.MeasureAsync(name, o.HubUrl, o.LeafUrl, subject, o.Messages, o.Size, o.Window, null, cpu, token);
            }
        }

        for (var round = 0; round < o.Rounds; round++)
        {
            for (var i = 0; i < paths.Length; i++)
            {
                var p = (i + round) % paths.Length;
                var run = await Forwarding.MeasureAsync(paths[p].Name, o.HubUrl, o.LeafUrl, paths[p].Subject, o.Messages, o.Size, o.Window, null, cpu, token);
                saturated[p].Add(run);
                Console.WriteLine($"  round {round + 1} saturated: {run.Name,-36}{run.MessagesPerSecond,10:F0} msgs/s {run.CpuMsPer100k,8:F0} CPU ms/100k  lost {run.Lost}  dup {run.Duplicates}");
            }

            for (var i = 0; i < paths.Length; i++)
            {
                var p = (i + round) % paths.Length;
                var run = await Forwarding.MeasureAsync(paths[p].Name, o.HubUrl, o.LeafUrl, paths[p].Subject, o.PacedMessages, o.Size, o.Window, o.PacedRate, cpu, token);
                paced[p].Add(run);
                Console.WriteLine($"  round {round + 1} paced:     {run.Name,-36}{run.MessagesPerSecond,10:F0} msgs/s  p50 {run.P50Ms:F2} ms  p99 {run.P99Ms:F2} ms  lost {run.Lost}  dup {run.Duplicates}");
            }
        }

        foreach (var link in engine.GetLinks().Where(l => l.State != LinkState.Running))
        {
            Console.WriteLine($"  link {link.Id} ({link.Exchange}) ended the run {link.State}: {link.Error}");
        }

        return (saturated, paced);
    }
}
