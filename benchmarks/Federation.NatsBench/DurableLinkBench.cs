using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;
using Federation.Nats.Transport;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Federation.NatsBench;

/// <summary>
/// (b) Durable forwarding hub -> leaf, both servers with JetStream in their own domain, joined by the same leafnode
/// connection as (a). Reference: native sourcing, a stream on the leaf (NATIVE_DOWN) that sources a stream on the hub
/// (NATIVE_UP, subjects "native.>") through the hub domain's API prefix. Ours: the durable link (URI key
/// jetstream=true) federating namespace "durable" from the hub into a stream on the leaf that captures "durable.>" (LINK_DOWN, created before the link starts).
/// The link's URIs come from the environment, so this part runs against whichever build has the durable mode:
/// NATSBENCH_DURABLE_UPSTREAM_URI and NATSBENCH_DURABLE_DOWNSTREAM_URI, with {hub-port}, {leaf-port},
/// {hub-monitor-port} and {leaf-monitor-port} filled in. NATSBENCH_DURABLE_UPSTREAM_STREAM names an upstream stream
/// that the bench creates for the link (for a link that uses a named stream rather than creating one).
/// </summary>
internal static class DurableLinkBench
{
    public const string NativeName = "nats-server JetStream sourcing (reference)";
    public const string LinkName = "Federation.Core durable link";

    public const string DefaultUpstreamUri = "nats://127.0.0.1:{hub-port}?cluster-name=bench-hub&namespaces=durable&jetstream=true";
    public const string DefaultDownstreamUri = "nats://127.0.0.1:{leaf-port}?cluster-name=bench-leaf&monitor-port={leaf-monitor-port}&monitor-interval-ms=100&namespaces=durable&jetstream=true&stream=LINK_DOWN";

    private const string NativeSubject = "native.k";
    private const string LinkSubject = "durable.k";
    private static readonly TimeSpan SetupTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The runs of both paths; the link's is null with the reason when the durable link is not available in this build.</summary>
    public static async Task<(PathRuns Native, PathRuns? Link, string? Unavailable)> RunAsync(BenchOptions o, ProcessCpu cpu, CancellationToken token)
    {
        Console.WriteLine($"(b) durable forwarding hub -> leaf: {o.DurableMessages} x {o.Size} B per run into a JetStream stream on the hub until all are in a stream on the leaf, " +
            $"at most {o.Window} PubAcks outstanding, {o.Rounds} interleaved rounds");
        await using var hub = new NatsConnection(NatsOpts.Default with { Url = o.HubUrl, Name = "bench-js-admin" });
        await using var leaf = new NatsConnection(NatsOpts.Default with { Url = o.LeafUrl, Name = "bench-js-admin" });
        var hubJs = new NatsJSContext(hub);
        var leafJs = new NatsJSContext(leaf);

        // Native sourcing: the downstream stream has no subjects of its own; it only sources the upstream one.
        await hubJs.CreateStreamAsync(new StreamConfig("NATIVE_UP", ["native.>"]) { Storage = StreamConfigStorage.File }, token);
        await leafJs.CreateStreamAsync(
            new StreamConfig { Name = "NATIVE_DOWN", Storage = StreamConfigStorage.File, Sources = [new StreamSource { Name = "NATIVE_UP", External = new ExternalStreamSource { Api = $"$JS.{o.HubDomain}.API" } }] },
            token);
        // The same lookup finds the durable link's streams below: check it on a stream whose name is known.
        if (await DurableForwarding.FindStreamAsync(hubJs, NativeSubject, token) != "NATIVE_UP")
        {
            throw new InvalidOperationException($"the stream lookup by subject did not find NATIVE_UP for '{NativeSubject}'");
        }

        await ProbeAsync(hubJs, leafJs, NativeSubject, "NATIVE_UP", "NATIVE_DOWN", token);

        var native = new PathRuns(NativeName);
        var (engine, link, unavailable) = await StartLinkAsync(o, hubJs, leafJs, token);
        await using (engine)
        {
            var paths = new List<(PathRuns Runs, string Subject, string Up, string Down)> { (native, NativeSubject, "NATIVE_UP", "NATIVE_DOWN") };
            if (link is { } l)
            {
                paths.Add((new PathRuns(LinkName), LinkSubject, l.Upstream, l.Downstream));
            }
            else
            {
                Console.WriteLine($"  DURABLE LINK UNAVAILABLE: {unavailable}");
                Console.WriteLine("  measuring native sourcing alone; no durable ratio in this run");
            }

            for (var round = 0; round < o.Rounds; round++)
            {
                for (var i = 0; i < paths.Count; i++)
                {
                    var (runs, subject, up, down) = paths[(i + round) % paths.Count];
                    var run = await DurableForwarding.MeasureAsync(runs.Name, o.HubUrl, o.LeafUrl, subject, up, down, o.DurableMessages, o.Size, o.Window, cpu, token);
                    runs.Add(run);
                    Console.WriteLine($"  round {round + 1}: {run.Name,-44}{run.MessagesPerSecond,10:F0} msgs/s {run.CpuMsPer100k,8:F0} CPU ms/100k  lost {run.Lost}  dup {run.Duplicates}");
                }
            }

            return (native, paths.Count > 1 ? paths[1].Runs : null, unavailable);
        }
    }

    /// <summary>Starts the durable link; on any failure returns why, naming what was tried (URIs redacted).</summary>
    private static async Task<(FederationEngine? Engine, (string Upstream, string Downstream)? Streams, string? Unavailable)> StartLinkAsync(
        BenchOptions o, NatsJSContext hubJs, NatsJSContext leafJs, CancellationToken token)
    {
        var upstreamUri = o.Expand(Environment.GetEnvironmentVariable("NATSBENCH_DURABLE_UPSTREAM_URI") is { Length: > 0 } u ? u : DefaultUpstreamUri);
        var downstreamUri = o.Expand(Environment.GetEnvironmentVariable("NATSBENCH_DURABLE_DOWNSTREAM_URI") is { Length: > 0 } d ? d : DefaultDownstreamUri);
        Console.WriteLine($"  durable link: upstream {UriRedaction.Redact(upstreamUri)}");
        Console.WriteLine($"                downstream {UriRedaction.Redact(downstreamUri)}");
        FederationEngine? engine = null;
        try
        {
            if (Environment.GetEnvironmentVariable("NATSBENCH_DURABLE_UPSTREAM_STREAM") is { Length: > 0 } named)
            {
                await hubJs.CreateStreamAsync(new StreamConfig(named, ["durable.>"]) { Storage = StreamConfigStorage.File }, token);
            }

            // The JetStream downstream exists before the link starts, as a user's would (file storage, like NATIVE_DOWN).
            var down = await DurableForwarding.FindStreamAsync(leafJs, LinkSubject, token);
            if (down is null)
            {
                down = "LINK_DOWN";
                await leafJs.CreateStreamAsync(new StreamConfig(down, ["durable.>"]) { Storage = StreamConfigStorage.File }, token);
            }

            var options = new FederationOptions { Downstream = { Uri = downstreamUri } };
            options.Upstreams["durable"] = new UpstreamDefinition { Uris = { upstreamUri }, AckMode = AckMode.OnConfirm, PrefetchCount = o.Window };
            options.Policies["durable"] = new FederationPolicy { Pattern = "^durable$", ApplyTo = "exchanges", Definition = { FederationUpstream = "durable" } };
            engine = new FederationEngine(options, [new NatsTransport()]);
            await engine.StartAsync(token);
            await LinkWait.RunningAsync(engine, 1, SetupTimeout, token);

            var up = await PollAsync(() => DurableForwarding.FindStreamAsync(hubJs, LinkSubject, token), token)
                ?? throw new InvalidOperationException($"no stream on the upstream captures '{LinkSubject}' {SetupTimeout.TotalSeconds:F0} s after the link started " +
                    "(the durable link creates one, or set NATSBENCH_DURABLE_UPSTREAM_STREAM for a named one)");
            await ProbeAsync(hubJs, leafJs, LinkSubject, up, down, token);
            Console.WriteLine($"  durable link running: upstream stream {up}, downstream stream {down}");
            return (engine, (up, down), null);
        }
        catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
        {
            if (engine is not null)
            {
                await engine.DisposeAsync();
            }

            return (null, null, $"{e.GetType().Name}: {UriRedaction.RedactText(e.Message)} (is the durable mode, URI key jetstream=true, in this build? " +
                "Set NATSBENCH_DURABLE_UPSTREAM_URI / NATSBENCH_DURABLE_DOWNSTREAM_URI to its URIs)");
        }
    }

    /// <summary>One JetStream publish upstream, then waits until the downstream stream holds one more message: the path works end to end.</summary>
    private static async Task ProbeAsync(NatsJSContext upstream, NatsJSContext downstream, string subject, string upStream, string downStream, CancellationToken token)
    {
        var before = await DurableForwarding.MessageCountAsync(downstream, downStream, token);
        var ack = await upstream.PublishAsync(subject, new byte[] { 1 }, cancellationToken: token);
        ack.EnsureSuccess();
        var arrived = await PollAsync(async () => await DurableForwarding.MessageCountAsync(downstream, downStream, token) > before ? "yes" : null, token);
        if (arrived is null)
        {
            throw new TimeoutException($"a message published to '{subject}' (stream {upStream}) did not reach stream {downStream} within {SetupTimeout.TotalSeconds:F0} s");
        }
    }

    private static async Task<string?> PollAsync(Func<Task<string?>> probe, CancellationToken token)
    {
        var deadline = DateTime.UtcNow + SetupTimeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await probe() is { } found)
            {
                return found;
            }

            await Task.Delay(100, token);
        }

        return null;
    }
}
