// Request/reply through the Federation of Collectives on real nats-servers, three paths measured in one run on the same
// two servers (one federation, one member collective) and the same simulated node:
//   direct     the client on the collective's server publishes to the node's subject with a NATS reply subject (no federation);
//   1 broker   the client on the federation's server sends a federated request through broker cluster "bench1" (1 instance);
//   2 brokers  the same through broker cluster "bench2" (2 instances; queue groups share the work).
// Every broker instance is a process of its own (this executable, "broker" mode), so its CPU is measured apart from the
// clients'. Both clusters run for the whole run; the paths take turns, ROUNDS times, so that the noise of a shared machine
// spreads over all three. Every path uses the same client (CONCURRENCY requests outstanding, one wildcard reply
// subscription) and 256-byte bodies. Two phases: closed loop (saturation), then paced at PACED_RATE requests/s (default:
// a third of the slowest closed-loop path's throughput) for the latency below saturation. Prints requests/s, p50 and p99,
// the ratios against direct, and CPU microseconds per request of the bench process (clients and node), the path's broker
// processes and the nats-servers (pids in BENCH_SERVER_PIDS).
// Usage: Federation.Collectives.Bench FEDERATION_URL COLLECTIVE_URL [REQUESTS] [CONCURRENCY] [WORKERS] [ROUNDS] [PACED_RATE]
//        Federation.Collectives.Bench broker CLUSTER INSTANCE FEDERATION_URL COLLECTIVE_URL WORKERS
using System.Globalization;
using Federation.Collectives.Bench;
using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;
using Federation.Nats.Messaging;

if (args.Length > 0 && args[0] == "broker")
{
    return await BrokerProcess.RunAsync(args);
}

const string Target = "mcollective.broadcast.agent.bench";
var federationUrl = args[0];
var collectiveUrl = args[1];
var requests = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20_000;
var concurrency = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 64;
var workers = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 1;
var rounds = args.Length > 5 ? int.Parse(args[5], CultureInfo.InvariantCulture) : 5;
double? pacedRate = args.Length > 6 ? double.Parse(args[6], CultureInfo.InvariantCulture) : null;
var serverPids = (Environment.GetEnvironmentVariable("BENCH_SERVER_PIDS") ?? string.Empty)
    .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
var deadline = TimeSpan.FromSeconds(180);
var transport = new NatsSubjectTransport();
var body = new byte[256];
var loadAtStart = ProcessCpu.LoadAverage();

// The node answers every request the same way, federated or not (FederatedMessages.ReplyAsync copies the envelope, if any).
await using var node = await transport.ConnectAsync(new SubjectConnectionRequest(collectiveUrl, "bench node"), CancellationToken.None);
await using var nodeSubscription = await node.SubscribeAsync(Target, null, (request, token) => node.ReplyAsync(request, request.Body, null, token), CancellationToken.None);
await using var direct = await transport.ConnectAsync(new SubjectConnectionRequest(collectiveUrl, "bench direct client"), CancellationToken.None);
await using var federated = await transport.ConnectAsync(new SubjectConnectionRequest(federationUrl, "bench federated client"), CancellationToken.None);
var clientHop = new SeenByHop(federated.ConnectedServer ?? "-", "bench-client", federated.ConnectedServer ?? "-").Format();

var brokers = new List<BrokerProcess>();
try
{
    foreach (var (cluster, instances) in new[] { ("bench1", 1), ("bench2", 2) })
    {
        for (var i = 0; i < instances; i++)
        {
            brokers.Add(await BrokerProcess.StartAsync(cluster, $"{cluster}-{i}", federationUrl, collectiveUrl, workers));
        }
    }

    Console.WriteLine($"{requests} requests per path and phase in {rounds} interleaved rounds, {concurrency} outstanding, 256-byte bodies, {workers} worker(s) per broker side, each broker instance its own process");
    (string Name, int[] BrokerPids, ISubjectConnection Client, Func<int, string, ValueTask> Send)[] paths =
    [
        ("direct (no federation)", [], direct, (_, reply) => direct.PublishAsync(new SubjectMessage(Target, body, null, reply), CancellationToken.None)),
        ("through 1 broker instance", PidsOf("bench1"), federated, Federated("bench1")),
        ("through 2 broker instances", PidsOf("bench2"), federated, Federated("bench2")),
    ];

    // Warm-up (JIT, connection buffers), not measured.
    foreach (var path in paths)
    {
        await RoundAsync(path.Client, path.BrokerPids, Math.Min(requests, 2_000), path.Send, null);
    }

    var closed = await PhaseAsync(null);
    var rate = pacedRate ?? Math.Round(closed.Min(r => r.RequestsPerSecond) / 3);
    Console.WriteLine();
    Console.WriteLine($"closed loop ({concurrency} outstanding, saturation)");
    Print(closed);
    var paced = await PhaseAsync(rate);
    Console.WriteLine();
    Console.WriteLine($"paced at {rate:F0} requests/s (below saturation)");
    Print(paced);

    Console.WriteLine();
    var handled = new List<string>();
    foreach (var broker in brokers)
    {
        handled.Add($"{broker.Cluster} pid {broker.Pid}: {await broker.StopAsync()}");
    }

    Console.WriteLine($"requests handled per broker instance (warm-up included): {string.Join(", ", handled)}");
    Console.WriteLine($"load average (1, 5, 15 min) at start: {loadAtStart}, at end: {ProcessCpu.LoadAverage()}; {Environment.ProcessorCount} cores");
    return closed.Concat(paced).Any(r => r.Lost > 0 || r.Duplicates > 0) ? 1 : 0;

    async Task<PathResult[]> PhaseAsync(double? ratePerSecond)
    {
        var results = paths.Select(p => new PathResult(p.Name)).ToArray();
        var perRound = Math.Max(1, requests / rounds);
        for (var round = 0; round < rounds; round++)
        {
            for (var p = 0; p < paths.Length; p++)
            {
                results[p].Add(await RoundAsync(paths[p].Client, paths[p].BrokerPids, perRound, paths[p].Send, ratePerSecond));
            }
        }

        return results;
    }
}
finally
{
    foreach (var broker in brokers)
    {
        await broker.DisposeAsync();
    }
}

int[] PidsOf(string cluster) => [.. brokers.Where(b => b.Cluster == cluster).Select(b => b.Pid)];

void Print(PathResult[] results)
{
    var reference = results[0];
    Console.WriteLine($"{"path",-28}{"req/s",8}{"p50 ms",8}{"p99 ms",9}{"lost",6}{"req/s ratio",13}{"p50 ratio",11}{"p99 ratio",11}{"CPU us/req: clients",21}{"brokers",9}{"servers",9}");
    foreach (var r in results)
    {
        Console.WriteLine($"{r.Name,-28}{r.RequestsPerSecond,8:F0}{r.P50Ms,8:F2}{r.P99Ms,9:F2}{r.Lost,6}{r.RequestsPerSecond / reference.RequestsPerSecond,12:F2}x{r.P50Ms / reference.P50Ms,10:F2}x{r.P99Ms / reference.P99Ms,10:F2}x{r.PerRequestUs(r.ClientCpu),21:F0}{r.PerRequestUs(r.BrokerCpu),9:F0}{r.PerRequestUs(r.ServerCpu),9:F0}");
    }
}

Func<int, string, ValueTask> Federated(string cluster)
{
    var subject = FederationBrokerSubjects.For(cluster, FederationBrokerOptions.DefaultSubjectPrefix).Federation;
    return (index, reply) =>
    {
        List<KeyValuePair<string, string>> headers =
        [
            new(FederationHeaders.RequestId, reply),
            new(FederationHeaders.ReplyTo, reply),
            new(FederationHeaders.Target, Target),
            new(FederationHeaders.SeenBy, clientHop),
            new(FederationHeaders.Hops, "0"),
        ];
        return federated.PublishAsync(new SubjectMessage(subject, body, headers), CancellationToken.None);
    };
}

async Task<RoundResult> RoundAsync(ISubjectConnection client, int[] brokerPids, int count, Func<int, string, ValueTask> send, double? ratePerSecond)
{
    var run = new LoadRun(count, concurrency, $"bench.reply.r{Guid.NewGuid():N}");
    await using var replies = await client.SubscribeAsync(run.ReplyPrefix + ".*", null, run.OnReplyAsync, CancellationToken.None);
    var (clients, brokerCpu, servers) = (ProcessCpu.Of(Environment.ProcessId), ProcessCpu.Of(brokerPids), ProcessCpu.Of(serverPids));
    var result = await run.ExecuteAsync(send, deadline, ratePerSecond);
    return result with
    {
        Cpu = (ProcessCpu.Of(Environment.ProcessId) - clients, ProcessCpu.Of(brokerPids) - brokerCpu, ProcessCpu.Of(serverPids) - servers),
    };
}
