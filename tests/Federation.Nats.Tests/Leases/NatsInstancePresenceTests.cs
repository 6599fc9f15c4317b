using System.Globalization;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Tests.JetStream;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Xunit.Abstractions;

namespace Federation.Nats.Tests.Leases;

/// <summary>
/// Two <see cref="FederationEngine"/>s with the same configuration on a JetStream-enabled NATS downstream hear each other's
/// presence heartbeats (the exchange primitives of the NATS transport, in JetStream mode and in core mode) and so split two links one each,
/// rather than the first to start taking both leases. The heartbeats stay on core NATS (no stream, no durable consumer).
/// </summary>
public sealed class NatsInstancePresenceTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string[] Exchanges = ["orders", "payments"];
    private static readonly string[] Instances = ["host-a", "host-b"];
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly List<FederationEngine> _engines = [];
    private NatsServerProcess _upstream = null!;
    private NatsServerProcess _downstream = null!;

    public async Task InitializeAsync()
    {
        _upstream = await NatsServerProcess.StartJetStreamAsync("presence-up");
        _downstream = await NatsServerProcess.StartJetStreamAsync("presence-down");
    }

    public async Task DisposeAsync()
    {
        foreach (var engine in _engines)
        {
            await engine.DisposeAsync();
        }

        await _upstream.DisposeAsync();
        await _downstream.DisposeAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)] // core mode: the leases still come from the server's key-value store
    public async Task Two_engines_on_a_JetStream_downstream_see_each_other_and_run_one_of_two_links_each(bool jetStreamMode)
    {
        // Alone, host-a runs both links; only hearing host-b makes it hand one over (two engines started together could
        // split the leases by chance).
        StartEngine(Instances[0], jetStreamMode);
        await JetStreamTestKit.EventuallyAsync(
            () => Task.FromResult(_engines[0].GetLinks().Count(l => l.State == LinkState.Running) == Exchanges.Length),
            Describe,
            Deadline);
        StartEngine(Instances[1], jetStreamMode);

        await JetStreamTestKit.EventuallyAsync(
            () => Task.FromResult(_engines.All(e => e.GetLinks().Count(l => l.State == LinkState.Running) == 1)),
            Describe,
            Deadline);

        // Each link runs once, and both instances agree where.
        var running = _engines.SelectMany(e => e.GetLinks().Where(l => l.State == LinkState.Running)).ToList();
        Assert.Equal(Exchanges, running.Select(l => l.Exchange).Order());
        Assert.All(_engines.SelectMany(e => e.GetLinks()), link => Assert.Equal(running.Single(r => r.Exchange == link.Exchange).Instance, link.RunningOn));

        // The heartbeats travel on core NATS: no stream keeps them, and no durable consumer outlives an instance.
        await using var nats = new NatsConnection(new NatsOpts { Url = _downstream.Url, Name = "test-streams" });
        await nats.ConnectAsync();
        var capturing = new List<string>();
        await foreach (var stream in new NatsJSContext(nats).ListStreamNamesAsync(subject: "federation.presence.DOWN"))
        {
            capturing.Add(stream);
        }

        Assert.Empty(capturing);
    }

    private string Describe() => string.Join(
        "; ",
        _engines.SelectMany(e => e.GetLinks()).Select(l => $"{l.Instance}: {l.Exchange} {l.State} on {l.RunningOn} {l.Error} {l.Waiting}"));

    private void StartEngine(string instance, bool jetStreamMode)
    {
        var options = new FederationOptions
        {
            InstanceName = instance,
            Downstream =
            {
                Uri = $"{_downstream.Url}?cluster-name=DOWN&monitor-port={_downstream.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces={string.Join(',', Exchanges)}&jetstream={(jetStreamMode ? "true" : "false")}",
            },
        };
        options.Upstreams["up"] = new UpstreamDefinition
        {
            Uris = { $"{_upstream.Url}?cluster-name=UP&jetstream=true&ack-wait-ms=3000" },
            ReconnectDelaySeconds = 0.2,
            ReconnectBackoff = ReconnectBackoffMode.Fixed,
        };
        options.Policies["fed"] = new FederationPolicy { Pattern = "^(orders|payments)$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        var engine = new FederationEngine(options, [new NatsTransport()], new TestOutputLoggerFactory(output));
        _engines.Add(engine);
        _ = engine.StartAsync(CancellationToken.None);
    }
}
