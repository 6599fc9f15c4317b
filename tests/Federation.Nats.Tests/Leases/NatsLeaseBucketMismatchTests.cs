using System.Globalization;
using Federation.Core;
using Federation.Core.Hosting;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Tests.JetStream;
using Federation.Nats.Tests.Security;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Federation.Nats.Tests.Leases;

/// <summary>
/// Two engines with one configuration, except that one names another <c>lease-bucket</c> on its downstream URI: their
/// leases do not exclude each other, so both run the link and every message crosses twice. They still hear each other's
/// heartbeats, which say where each keeps its leases and which links it holds: both warn (events 1205 and 1207), and the
/// one whose name sorts after the other's stops the link and stands by (event 1209), so that it runs once.
/// </summary>
public sealed class NatsLeaseBucketMismatchTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly List<(FederationEngine Engine, CapturingLoggerFactory Logs)> _engines = [];
    private NatsServerProcess _upstream = null!;
    private NatsServerProcess _downstream = null!;

    public async Task InitializeAsync()
    {
        _upstream = await NatsServerProcess.StartJetStreamAsync("bucket-up");
        _downstream = await NatsServerProcess.StartJetStreamAsync("bucket-down");
    }

    public async Task DisposeAsync()
    {
        foreach (var (engine, _) in _engines)
        {
            await engine.DisposeAsync();
        }

        await _upstream.DisposeAsync();
        await _downstream.DisposeAsync();
    }

    [Fact]
    public async Task Two_engines_with_different_lease_buckets_both_say_that_the_link_runs_twice_and_the_second_by_name_yields()
    {
        StartEngine("nhost-1", leaseBucket: null);
        StartEngine("nhost-3", leaseBucket: "federation-leases-2");

        // Both take their own lease and run the link; once each has heard the other hold it, nhost-3 (after nhost-1 by
        // name) stops it and stands by, and nhost-1 runs it alone.
        await JetStreamTestKit.EventuallyAsync(
            () => Task.FromResult(_engines[0].Engine.GetLinks() is [{ State: LinkState.Running, AlsoHeldBy: null }]
                && _engines[1].Engine.GetLinks() is [{ State: LinkState.Waiting, RunningOn: "nhost-1" }]),
            Describe,
            Deadline);

        foreach (var (self, other, index) in new[] { ("nhost-1", "nhost-3", 0), ("nhost-3", "nhost-1", 1) })
        {
            var (engine, logs) = _engines[index];
            var link = engine.GetLinks()[0];
            var health = await new FederationHealthCheck(engine).CheckHealthAsync(new HealthCheckContext());
            Assert.Equal(HealthStatus.Healthy, health.Status);

            await JetStreamTestKit.EventuallyAsync(
                () => Task.FromResult(logs.Text.Contains($"this instance '{self}' holds its lease '{link.Lease}', and the heartbeats of instance(s) '{other}' say they hold it too", StringComparison.Ordinal)
                    && logs.Text.Contains($"but instance '{other}' keeps its own in the JetStream key-value bucket", StringComparison.Ordinal)),
                () => logs.Text,
                Deadline);
        }

        Assert.Equal("nhost-1", _engines[0].Engine.GetLinks()[0].LeaseHolder);
        Assert.Contains("yields to 'nhost-1'", _engines[1].Logs.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("yields to", _engines[0].Logs.Text, StringComparison.Ordinal);
    }

    private string Describe() => string.Join(
        "; ",
        _engines.SelectMany(e => e.Engine.GetLinks()).Select(l => $"{l.Instance}: {l.Exchange} {l.State} holder={l.LeaseHolder} also={string.Join(",", l.AlsoHeldBy ?? [])} {l.Error} {l.Waiting}"));

    private void StartEngine(string instance, string? leaseBucket)
    {
        var bucket = leaseBucket is null ? string.Empty : $"&lease-bucket={leaseBucket}";
        var options = new FederationOptions
        {
            InstanceName = instance,
            Downstream =
            {
                Uri = $"{_downstream.Url}?cluster-name=nats-a&monitor-port={_downstream.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces=orders{bucket}",
            },
        };
        options.Upstreams["nats-b"] = new UpstreamDefinition
        {
            Uris = { $"{_upstream.Url}?cluster-name=nats-b&jetstream=true&ack-wait-ms=3000" },
            ReconnectDelaySeconds = 0.2,
            ReconnectBackoff = ReconnectBackoffMode.Fixed,
        };
        options.Policies["fed"] = new FederationPolicy { Pattern = "^orders$", Definition = new FederationPolicyDefinition { FederationUpstream = "nats-b" } };
        var logs = new CapturingLoggerFactory();
        var engine = new FederationEngine(options, [new NatsTransport()], logs);
        _engines.Add((engine, logs));
        _ = engine.StartAsync(CancellationToken.None);
    }
}
