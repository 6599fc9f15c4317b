using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;
using Federation.Nats.JetStream;
using Federation.Nats.Tests.JetStream;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using Xunit.Abstractions;

namespace Federation.Nats.Tests.Leases;

/// <summary>
/// Two <see cref="FederationEngine"/>s with the same configuration on one JetStream-durable NATS link: the lease (a key
/// of the downstream's <c>federation-leases</c> bucket) lets one run it while the other waits naming the holder; when
/// the holder dies mid-transfer (its sockets close, nothing is released), the other takes over within 10 s, and the
/// downstream stream holds every message exactly once.
/// </summary>
public sealed class NatsLinkLeaseFailoverTests(ITestOutputHelper output) : JetStreamServerPairTests("lease-up", "lease-down")
{
    private const string Exchange = "orders";
    private const int Messages = 20_000;
    private static readonly string Stream = "federation-" + Exchange;
    private static readonly TimeSpan TakeOverBar = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task The_waiting_engine_takes_over_within_10_s_when_the_holder_dies_mid_transfer_and_nothing_is_lost_or_doubled()
    {
        var (a, crashA) = StartEngine("host-a");
        await WaitForAsync(a, LinkState.Running, Deadline);
        var (b, _) = StartEngine("host-b");
        var waiting = await WaitForAsync(b, LinkState.Waiting, Deadline);
        Assert.Equal("host-a", waiting.LeaseHolder);
        Assert.Contains("'host-a'", waiting.Waiting, StringComparison.Ordinal);

        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, 0, Messages);
        long count = 0;
        await JetStreamTestKit.EventuallyAsync(
            async () => (count = await JetStreamTestKit.CountAsync(Downstream, Stream)) >= Messages / 20,
            () => $"the first messages downstream; have {count}",
            Deadline);

        // As a killed process: its sockets close, it releases nothing, and it never connects again.
        var clock = Stopwatch.StartNew();
        await crashA.CrashAsync();
        output.WriteLine($"host-a crashed with {count} of {Messages} downstream");
        var taken = await WaitForAsync(b, LinkState.Running, Deadline);
        output.WriteLine($"host-b took over {clock.Elapsed} after the crash");
        Assert.True(clock.Elapsed < TakeOverBar, $"host-b took over {clock.Elapsed} after host-a died");
        Assert.Equal("host-b", taken.LeaseHolder);
        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, Messages, Messages);

        var upstreamState = "";
        await JetStreamTestKit.EventuallyAsync(
            async () =>
            {
                count = await JetStreamTestKit.CountAsync(Downstream, Stream);
                var consumers = await JetStreamTestKit.ConsumersAsync(Upstream, Stream);
                upstreamState = string.Join("; ", consumers.Select(c => $"{c.Name}: pending {c.NumPending}, ack pending {c.NumAckPending}"));
                return count >= 2 * Messages && consumers is [{ NumPending: 0, NumAckPending: 0 }];
            },
            () => $"{2 * Messages} messages downstream and nothing left upstream; have {count}; upstream: {upstreamState}",
            Deadline);

        var bodies = await JetStreamTestKit.ReadAllAsync(Downstream, Stream, 2 * Messages);
        Assert.Equal(Enumerable.Range(0, 2 * Messages), bodies.ToHashSet().Order()); // 0 lost
        Assert.Equal(2 * Messages, bodies.Count); // 0 duplicates
    }

    private (FederationEngine Engine, CrashableTransport Transport) StartEngine(string instance)
    {
        var options = new FederationOptions
        {
            InstanceName = instance,
            Downstream =
            {
                Uri = $"{Downstream.Url}?cluster-name=DOWN&monitor-port={Downstream.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces={Exchange}&jetstream=true",
            },
        };
        options.Upstreams["up"] = new UpstreamDefinition
        {
            Uris = { $"{Upstream.Url}?cluster-name=UP&jetstream=true&ack-wait-ms=3000" },
            ReconnectDelaySeconds = 0.2,
            ReconnectBackoff = ReconnectBackoffMode.Fixed,
            ResourceCleanupMode = ResourceCleanupMode.Never,
            PrefetchCount = 1000,
        };
        options.Policies["fed"] = new FederationPolicy { Pattern = $"^{Exchange}$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        var transport = new CrashableTransport(new NatsTransport());
        var engine = new FederationEngine(options, [transport], new TestOutputLoggerFactory(output));
        Engines.Add(engine);
        _ = engine.StartAsync(CancellationToken.None);
        return (engine, transport);
    }

    private static async Task<LinkStatus> WaitForAsync(FederationEngine engine, LinkState state, TimeSpan timeout)
    {
        LinkStatus? found = null;
        await JetStreamTestKit.EventuallyAsync(
            () => Task.FromResult((found = engine.GetLinks().FirstOrDefault(l => l.Exchange == Exchange && l.State == state)) is not null),
            () => $"the link should be {state}; it is {string.Join(", ", engine.GetLinks().Select(l => $"{l.State} {l.Error} {l.Waiting}"))}",
            timeout);
        return found!;
    }

    /// <summary>
    /// A transport that dies as a killed process does: the official client of every connection it opened is closed under
    /// the engine (no lease is released, no consumer cancelled), and it never connects again.
    /// </summary>
    private sealed class CrashableTransport(ITransport inner) : ITransport
    {
        private readonly ConcurrentQueue<IBrokerConnection> _connections = new();
        private volatile bool _crashed;

        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public TransportCapabilities Capabilities => inner.Capabilities;

        public IReadOnlyList<string> ValidateUri(string uri) => inner.ValidateUri(uri);

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
        {
            if (_crashed)
            {
                throw new BrokerUnreachableException("this engine is dead");
            }

            var connection = await inner.ConnectAsync(request, cancellationToken);
            _connections.Enqueue(connection);
            return connection;
        }

        public async Task CrashAsync()
        {
            _crashed = true;
            foreach (var connection in _connections)
            {
                var client = connection switch
                {
                    JetStreamBrokerConnection jetStream => jetStream.Client,
                    NatsBrokerConnection core => core.Client,
                    _ => throw new InvalidOperationException(connection.GetType().Name),
                };
                await client.DisposeAsync();
            }
        }
    }
}
