// Request/reply through the Federation of Collectives on real nats-servers, three paths measured in one run on the same
// two servers (one federation, one member collective) and the same simulated node:
//   direct     the client on the collective's server publishes to the node's subject with a NATS reply subject (no federation);
//   1 broker   the client on the federation's server sends a federated request through broker cluster "bench1" (1 instance);
//   2 brokers  the same through broker cluster "bench2" (2 instances; queue groups share the work).
// Both clusters run for the whole run; the paths take turns, ROUNDS times, so that the noise of a shared machine spreads
// over all three. Every path uses the same closed-loop client (CONCURRENCY requests outstanding, one wildcard reply
// subscription) and 256-byte bodies. Prints requests/s, p50 and p99 reply latency, and the ratios against direct.
// Usage: Federation.Collectives.Bench FEDERATION_URL COLLECTIVE_URL [REQUESTS] [CONCURRENCY] [WORKERS] [ROUNDS]
using System.Globalization;
using Federation.Collectives.Bench;
using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;
using Federation.Nats.Messaging;

const string Target = "mcollective.broadcast.agent.bench";
var federationUrl = args[0];
var collectiveUrl = args[1];
var requests = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20_000;
var concurrency = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 64;
var workers = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 1;
var rounds = args.Length > 5 ? int.Parse(args[5], CultureInfo.InvariantCulture) : 5;
var deadline = TimeSpan.FromSeconds(120);
var transport = new NatsSubjectTransport();
var body = new byte[256];

// The node answers every request the same way, federated or not (FederatedMessages.ReplyAsync copies the envelope, if any).
await using var node = await transport.ConnectAsync(new SubjectConnectionRequest(collectiveUrl, "bench node"), CancellationToken.None);
await using var nodeSubscription = await node.SubscribeAsync(Target, null, (request, token) => node.ReplyAsync(request, request.Body, null, token), CancellationToken.None);
await using var direct = await transport.ConnectAsync(new SubjectConnectionRequest(collectiveUrl, "bench direct client"), CancellationToken.None);
await using var federated = await transport.ConnectAsync(new SubjectConnectionRequest(federationUrl, "bench federated client"), CancellationToken.None);
var clientHop = new SeenByHop(federated.ConnectedServer ?? "-", "bench-client", federated.ConnectedServer ?? "-").Format();

var brokers = new List<FederationBroker>();
try
{
    foreach (var (cluster, instances) in new[] { ("bench1", 1), ("bench2", 2) })
    {
        for (var i = 0; i < instances; i++)
        {
            var broker = new FederationBroker(
                new FederationBrokerOptions { ClusterName = cluster, FederationUri = federationUrl, CollectiveUri = collectiveUrl, InstanceName = $"{cluster}-{i}", Workers = workers },
                [transport]);
            await broker.StartAsync(CancellationToken.None);
            brokers.Add(broker);
        }
    }

    Console.WriteLine($"{requests} requests per path in {rounds} interleaved rounds, {concurrency} outstanding, 256-byte bodies, {workers} worker(s) per broker side");
    (PathResult Result, ISubjectConnection Client, Func<int, string, ValueTask> Send)[] paths =
    [
        (new PathResult("direct (no federation)"), direct, (_, reply) => direct.PublishAsync(new SubjectMessage(Target, body, null, reply), CancellationToken.None)),
        (new PathResult("through 1 broker instance"), federated, Federated("bench1")),
        (new PathResult("through 2 broker instances"), federated, Federated("bench2")),
    ];

    // Warm-up (JIT, connection buffers), not measured.
    foreach (var path in paths)
    {
        await RoundAsync(path.Client, Math.Min(requests, 2_000), path.Send);
    }

    var perRound = Math.Max(1, requests / rounds);
    for (var round = 0; round < rounds; round++)
    {
        foreach (var path in paths)
        {
            path.Result.Add(await RoundAsync(path.Client, perRound, path.Send));
        }
    }

    Console.WriteLine($"requests handled per broker instance (warm-up included): {string.Join(", ", brokers.Select(b => $"{b.InstanceName} {b.Statistics.RequestsReceived}"))}");
    var reference = paths[0].Result;
    Console.WriteLine();
    Console.WriteLine($"{"path",-30}{"req/s",10}{"p50 ms",10}{"p99 ms",10}{"lost",7}{"req/s ratio",13}{"p50 ratio",11}{"p99 ratio",11}");
    foreach (var r in paths.Select(p => p.Result))
    {
        Console.WriteLine($"{r.Name,-30}{r.RequestsPerSecond,10:F0}{r.P50Ms,10:F2}{r.P99Ms,10:F2}{r.Lost,7}{r.RequestsPerSecond / reference.RequestsPerSecond,12:F2}x{r.P50Ms / reference.P50Ms,10:F2}x{r.P99Ms / reference.P99Ms,10:F2}x");
    }

    return paths.Any(p => p.Result.Lost > 0 || p.Result.Duplicates > 0) ? 1 : 0;
}
finally
{
    foreach (var broker in brokers)
    {
        await broker.DisposeAsync();
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

async Task<RoundResult> RoundAsync(ISubjectConnection client, int count, Func<int, string, ValueTask> send)
{
    var run = new LoadRun(count, concurrency, $"bench.reply.r{Guid.NewGuid():N}");
    await using var replies = await client.SubscribeAsync(run.ReplyPrefix + ".*", null, run.OnReplyAsync, CancellationToken.None);
    return await run.ExecuteAsync(send, deadline);
}
