using System.Globalization;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Tests.JetStream;
using Federation.Nats.Tests.Security;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Federation.Nats.Tests.Leases;

/// <summary>
/// The lease bucket's stream deleted on the downstream under a running link: the link's lease is lost, and taking it
/// again finds the bucket missing, creates it again and goes on, instead of failing every attempt for good.
/// </summary>
public sealed class NatsLeaseBucketDeletedTests() : JetStreamServerPairTests("lease-del-up", "lease-del-down")
{
    private const string Exchange = "orders";
    private const string BucketStream = "KV_federation-leases";
    private const int Batch = 200;
    private static readonly string Stream = "federation-" + Exchange;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly CapturingLoggerFactory _logs = new();

    [Fact]
    public async Task A_deleted_lease_bucket_is_created_again_and_the_link_runs_and_forwards_again()
    {
        var engine = StartEngine();
        await WaitUntilAsync(engine, async () => engine.GetLinks() is [{ State: LinkState.Running, LeaseHolder: not null }] && await JetStreamTestKit.CountAsync(Downstream, BucketStream) > 0, "the link running under its lease");
        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, 0, Batch);
        await WaitUntilAsync(engine, async () => await JetStreamTestKit.CountAsync(Downstream, Stream) == Batch, "the first batch downstream");

        await using (var nats = new NatsConnection(new NatsOpts { Url = Downstream.Url, Name = "test-admin" }))
        {
            Assert.True(await new NatsJSContext(nats).DeleteStreamAsync(BucketStream));
        }

        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, Batch, Batch);

        // The lease is lost (its renewals get no answer); taking it again finds the bucket missing and creates it again.
        await WaitUntilAsync(engine, async () => await JetStreamTestKit.CountAsync(Downstream, BucketStream) > 0 && engine.GetLinks() is [{ State: LinkState.Running, LeaseHolder: not null }], "the link running under a lease kept in the re-created bucket");
        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, 2 * Batch, Batch);

        await WaitUntilAsync(engine, async () => await JetStreamTestKit.CountAsync(Downstream, Stream) == 3 * Batch, "every batch downstream");
        Assert.Equal(Enumerable.Range(0, 3 * Batch), (await JetStreamTestKit.ReadAllAsync(Downstream, Stream, 3 * Batch)).Order());
        Assert.Contains("Lease bucket 'federation-leases' on", _logs.Text, StringComparison.Ordinal);
        Assert.Contains("was missing", _logs.Text, StringComparison.Ordinal);
    }

    private FederationEngine StartEngine()
    {
        var options = new FederationOptions
        {
            Downstream =
            {
                Uri = $"{Downstream.Url}?cluster-name=DOWN&monitor-port={Port(Downstream.MonitorPort)}&monitor-interval-ms=50&namespaces={Exchange}&jetstream=true",
            },
        };
        options.Upstreams["up"] = new UpstreamDefinition
        {
            Uris = { $"{Upstream.Url}?cluster-name=UP&jetstream=true&ack-wait-ms=5000" },
            ReconnectDelaySeconds = 0.2,
            ReconnectBackoff = ReconnectBackoffMode.Fixed,
        };
        options.Policies["fed"] = new FederationPolicy { Pattern = $"^{Exchange}$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        var engine = new FederationEngine(options, [new NatsTransport(null, _logs)], _logs);
        Engines.Add(engine);
        _ = engine.StartAsync(CancellationToken.None);
        return engine;
    }

    private static Task WaitUntilAsync(FederationEngine engine, Func<Task<bool>> condition, string what) =>
        JetStreamTestKit.EventuallyAsync(
            condition,
            () => $"{what}; links: {string.Join(", ", engine.GetLinks().Select(l => $"{l.State} holder={l.LeaseHolder} {l.Error}"))}",
            Deadline);

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
