// Request/reply through the Federation of Collectives on real nats-servers, three paths measured in one run on the same
// two servers (one federation, one member collective) and the same simulated node:
//   direct     the client on the collective's server publishes to the node's subject with a NATS reply subject (no federation);
//   1 broker   the client on the federation's server sends a federated request through one broker instance;
//   2 brokers  the same through two instances of the same broker cluster (queue groups share the work).
// Every path uses the same closed-loop client (CONCURRENCY requests outstanding, one wildcard reply subscription) and
// 256-byte bodies. Prints requests/s, p50 and p99 reply latency, and the ratios against direct.
// Usage: Federation.Collectives.Bench FEDERATION_URL COLLECTIVE_URL [REQUESTS] [CONCURRENCY] [WORKERS]
using System.Globalization;
using Federation.Collectives.Bench;
using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;
using Federation.Nats.Messaging;

const string Cluster = "bench";
const string Target = "mcollective.broadcast.agent.bench";
var federationUrl = args[0];
var collectiveUrl = args[1];
var requests = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20_000;
var concurrency = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 64;
var workers = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 1;
var deadline = TimeSpan.FromSeconds(120);
var transport = new NatsSubjectTransport();
var body = new byte[256];

// The node answers every request the same way, federated or not (FederatedMessages.ReplyAsync copies the envelope, if any).
await using var node = await transport.ConnectAsync(new SubjectConnectionRequest(collectiveUrl, "bench node"), CancellationToken.None);
await using var nodeSubscription = await node.SubscribeAsync(Target, null, (request, token) => node.ReplyAsync(request, request.Body, null, token), CancellationToken.None);
await using var direct = await transport.ConnectAsync(new SubjectConnectionRequest(collectiveUrl, "bench direct client"), CancellationToken.None);
await using var federated = await transport.ConnectAsync(new SubjectConnectionRequest(federationUrl, "bench federated client"), CancellationToken.None);
var federationSubject = FederationBrokerSubjects.For(Cluster, FederationBrokerOptions.DefaultSubjectPrefix).Federation;
var clientHop = new SeenByHop(federated.ConnectedServer ?? "-", "bench-client", federated.ConnectedServer ?? "-").Format();

Console.WriteLine($"{requests} requests per path, {concurrency} outstanding, 256-byte bodies, {workers} worker(s) per broker side");
var results = new List<RunResult>
{
    await MeasureAsync("direct (no federation)", direct, (run, i, reply) => direct.PublishAsync(new SubjectMessage(Target, body, null, reply), CancellationToken.None)),
};

var brokers = new List<FederationBroker>();
try
{
    foreach (var instances in new[] { 1, 2 })
    {
        while (brokers.Count < instances)
        {
            var broker = new FederationBroker(
                new FederationBrokerOptions
                {
                    ClusterName = Cluster,
                    FederationUri = federationUrl,
                    CollectiveUri = collectiveUrl,
                    InstanceName = $"bench-{brokers.Count}",
                    Workers = workers,
                },
                [transport]);
            await broker.StartAsync(CancellationToken.None);
            brokers.Add(broker);
        }

        var before = brokers.Select(b => b.Statistics.RequestsReceived).ToArray();
        results.Add(await MeasureAsync($"through {instances} broker instance{(instances == 1 ? string.Empty : "s")}", federated, SendFederated));
        Console.WriteLine($"  requests handled per instance (warm-up included): {string.Join(", ", brokers.Select((b, i) => $"{b.InstanceName} {b.Statistics.RequestsReceived - before[i]}"))}");
    }
}
finally
{
    foreach (var broker in brokers)
    {
        await broker.DisposeAsync();
    }
}

var reference = results[0];
Console.WriteLine();
Console.WriteLine($"{"path",-32}{"req/s",10}{"p50 ms",10}{"p99 ms",10}{"lost",7}{"req/s ratio",13}{"p50 ratio",11}{"p99 ratio",11}");
foreach (var r in results)
{
    Console.WriteLine($"{r.Name,-32}{r.RequestsPerSecond,10:F0}{r.P50Ms,10:F2}{r.P99Ms,10:F2}{r.Lost,7}{r.RequestsPerSecond / reference.RequestsPerSecond,12:F2}x{r.P50Ms / reference.P50Ms,10:F2}x{r.P99Ms / reference.P99Ms,10:F2}x");
}

return results.Exists(r => r.Lost > 0 || r.Duplicates > 0) ? 1 : 0;

ValueTask SendFederated(LoadRun run, int index, string reply)
{
    var requestId = string.Create(CultureInfo.InvariantCulture, $"{run.ReplyPrefix}-{index}");
    List<KeyValuePair<string, string>> headers =
    [
        new(FederationHeaders.RequestId, requestId),
        new(FederationHeaders.ReplyTo, reply),
        new(FederationHeaders.Target, Target),
        new(FederationHeaders.SeenBy, clientHop),
        new(FederationHeaders.Hops, "0"),
    ];
    return federated.PublishAsync(new SubjectMessage(federationSubject, body, headers), CancellationToken.None);
}

async Task<RunResult> MeasureAsync(string name, ISubjectConnection client, Func<LoadRun, int, string, ValueTask> send)
{
    // A short warm-up (JIT, connection buffers), then the measured run; each with its own reply subjects.
    foreach (var (label, count) in new[] { ("warmup", Math.Min(requests, 2_000)), ("run", requests) })
    {
        var run = new LoadRun(count, concurrency, $"bench.reply.{label}{Guid.NewGuid():N}");
        await using var replies = await client.SubscribeAsync(run.ReplyPrefix + ".*", null, run.OnReplyAsync, CancellationToken.None);
        var result = await run.ExecuteAsync(name, (i, reply) => send(run, i, reply), deadline);
        if (label == "run")
        {
            Console.WriteLine($"  {name}: {result.RequestsPerSecond:F0} req/s, p50 {result.P50Ms:F2} ms, p99 {result.P99Ms:F2} ms, lost {result.Lost}, duplicates {result.Duplicates}");
            return result;
        }
    }

    throw new InvalidOperationException("unreachable");
}
