// Profiling harness for the NATS links (benchmarks/nats-profile.sh drives it). The link and the load generator run in
// separate processes, so that a profile of the link process shows the link's work and nothing of the load generator's.
//   host core|durable HUB_URL LEAF_URL LEAF_MONITOR_PORT   runs the engine (core: namespaces "ours" no-ack and "confirm"
//                                                          on-confirm; durable: "durable" into stream LINK_DOWN) until
//                                                          stdin closes; prints READY once the links run
//   load SUBJECT HUB_URL LEAF_URL MESSAGES WINDOW RUNS     the benchmark's own saturated load (core subjects), RUNS times
//   load-durable HUB_URL LEAF_URL MESSAGES WINDOW RUNS     the benchmark's durable load into the hub's stream of "durable.>"
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Transport;
using Federation.NatsBench;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

var token = CancellationToken.None;
switch (args)
{
    case ["host", var kind, var hub, var leaf, var leafMonitor]:
    {
        var options = new FederationOptions();
        if (kind == "core")
        {
            options.Downstream.Uri = $"{leaf}?cluster-name=bench-leaf&monitor-port={leafMonitor}&monitor-interval-ms=100&namespaces=ours,confirm";
            options.Upstreams["no-ack"] = new UpstreamDefinition { Uris = { $"{hub}?cluster-name=bench-hub&namespaces=ours,confirm" }, AckMode = AckMode.NoAck, PrefetchCount = 10_000 };
            options.Upstreams["on-confirm"] = new UpstreamDefinition { Uris = { $"{hub}?cluster-name=bench-hub&namespaces=ours,confirm" }, AckMode = AckMode.OnConfirm, PrefetchCount = 10_000 };
            options.Policies["ours"] = new FederationPolicy { Pattern = "^ours$", ApplyTo = "exchanges", Definition = { FederationUpstream = "no-ack" } };
            options.Policies["confirm"] = new FederationPolicy { Pattern = "^confirm$", ApplyTo = "exchanges", Definition = { FederationUpstream = "on-confirm" } };
        }
        else
        {
            await using var admin = new NatsConnection(NatsOpts.Default with { Url = leaf });
            await new NatsJSContext(admin).CreateStreamAsync(new StreamConfig("LINK_DOWN", ["durable.>"]) { Storage = StreamConfigStorage.File }, token);
            options.Downstream.Uri = $"{leaf}?cluster-name=bench-leaf&monitor-port={leafMonitor}&monitor-interval-ms=100&namespaces=durable&jetstream=true&stream=LINK_DOWN";
            options.Upstreams["durable"] = new UpstreamDefinition { Uris = { $"{hub}?cluster-name=bench-hub&namespaces=durable&jetstream=true" }, AckMode = AckMode.OnConfirm, PrefetchCount = 10_000 };
            options.Policies["durable"] = new FederationPolicy { Pattern = "^durable$", ApplyTo = "exchanges", Definition = { FederationUpstream = "durable" } };
        }

        // What the link process spent per forwarded message over its whole life (the load dominates it): CPU, bytes
        // allocated, thread-pool work items and lock contentions. Counted with a listener on the engine's own counter.
        long forwarded = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "federation.link.messages.forwarded")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref forwarded, value));
        listener.Start();

        using var loggers = new Federation.NatsProfile.StderrLoggerFactory();
        await using var engine = new FederationEngine(options, [new NatsTransport()], loggers);
        await engine.StartAsync(token);
        await LinkWait.RunningAsync(engine, kind == "core" ? 2 : 1, TimeSpan.FromSeconds(30), token);
        Console.WriteLine($"READY {Environment.ProcessId}");
        var (cpu0, alloc0, items0, locks0) = (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime, GC.GetTotalAllocatedBytes(false), ThreadPool.CompletedWorkItemCount, Monitor.LockContentionCount);
        var gcs0 = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        var switches0 = Federation.NatsProfile.ContextSwitches.Read();
        await Console.In.ReadToEndAsync(token);
        var n = Math.Max(1, Interlocked.Read(ref forwarded));
        Console.WriteLine($"forwarded {n}: per message {(System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMilliseconds * 1000 / n:F2} us CPU, " +
            $"{(GC.GetTotalAllocatedBytes(false) - alloc0) / (double)n:F0} B allocated, {(ThreadPool.CompletedWorkItemCount - items0) / (double)n:F3} work items, " +
            $"{(Monitor.LockContentionCount - locks0) / (double)n:F4} lock contentions; GCs gen0 {GC.CollectionCount(0) - gcs0.Item1}, gen1 {GC.CollectionCount(1) - gcs0.Item2}, gen2 {GC.CollectionCount(2) - gcs0.Item3}");
        if (switches0 is var (voluntary0, involuntary0) && Federation.NatsProfile.ContextSwitches.Read() is var (voluntary, involuntary))
        {
            Console.WriteLine($"context switches per message: {(voluntary - voluntary0) / (double)n:F3} voluntary, {(involuntary - involuntary0) / (double)n:F3} involuntary");
        }

        foreach (var link in engine.GetLinks())
        {
            var dropped = link.DroppedMessages is { } d ? string.Join(", ", d.Select(kv => $"{kv.Key}={kv.Value}")) : "none";
            Console.WriteLine($"link {link.Id} ({link.Exchange}) {link.State} since {link.Since:HH:mm:ss.fff} {link.Error} dropped: {dropped}");
        }

        return 0;
    }

    case ["load", var subject, var hub, var leaf, var messages, var window, var runs]:
    {
        var cpu = ProcessCpu.FromEnvironment();
        var link = LinkCpu();
        for (var i = 0; i < int.Parse(runs); i++)
        {
            var linkBefore = link.TotalMs();
            var run = await Forwarding.MeasureAsync(subject, hub, leaf, subject, int.Parse(messages), 256, int.Parse(window), null, cpu, token);
            var linkMs = (link.TotalMs() - linkBefore) * 100_000 / Math.Max(1, run.Received);
            Console.WriteLine($"{subject}: {run.MessagesPerSecond:F0} msgs/s, {run.CpuMsPer100k:F0} CPU ms/100k (link process {linkMs:F0}), lost {run.Lost}, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        }

        return 0;
    }

    case ["load-durable", var hub, var leaf, var messages, var window, var runs]:
    {
        var cpu = ProcessCpu.FromEnvironment();
        var link = LinkCpu();
        await using var hubAdmin = new NatsConnection(NatsOpts.Default with { Url = hub });
        await using var leafAdmin = new NatsConnection(NatsOpts.Default with { Url = leaf });
        var up = await DurableForwarding.FindStreamAsync(new NatsJSContext(hubAdmin), "durable.k", token) ?? throw new InvalidOperationException("no upstream stream for durable.k");
        for (var i = 0; i < int.Parse(runs); i++)
        {
            var linkBefore = link.TotalMs();
            var run = await DurableForwarding.MeasureAsync("durable", hub, leaf, "durable.k", up, "LINK_DOWN", int.Parse(messages), 256, int.Parse(window), cpu, token);
            var linkMs = (link.TotalMs() - linkBefore) * 100_000 / Math.Max(1, run.Received);
            Console.WriteLine($"durable: {run.MessagesPerSecond:F0} msgs/s, {run.CpuMsPer100k:F0} CPU ms/100k (link process {linkMs:F0}), lost {run.Lost}, dup {run.Duplicates}, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        }

        return 0;
    }

    default:
        Console.Error.WriteLine("usage: see the header of Program.cs");
        return 64;
}

// The link process alone (NATSPROFILE_LINK_PID): its CPU per message is what an optimisation of the link changes.
static ProcessCpu LinkCpu() => new([int.Parse(Environment.GetEnvironmentVariable("NATSPROFILE_LINK_PID") ?? Environment.ProcessId.ToString())], 100);
