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
/// Two engines meant to be one federation on a JetStream downstream, one with a typo in <c>cluster-name</c>: they are two
/// federations to each other, so both run the link and core subscribers downstream see every message twice. Their
/// beacons on <c>federation.presence.all.clusters</c> say which links each runs: both warn (event 1211), list the other
/// in <see cref="LinkStatus.AlsoFederatedBy"/> and report degraded health.
/// </summary>
public sealed class NatsOtherFederationTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly List<(FederationEngine Engine, CapturingLoggerFactory Logs)> _engines = [];
    private NatsServerProcess _upstream = null!;
    private NatsServerProcess _downstream = null!;

    public async Task InitializeAsync()
    {
        _upstream = await NatsServerProcess.StartJetStreamAsync("otherfed-up");
        _downstream = await NatsServerProcess.StartJetStreamAsync("otherfed-down");
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
    public async Task Two_engines_whose_cluster_names_differ_by_a_typo_both_say_that_the_other_federation_runs_their_link()
    {
        StartEngine("nhost-1", cluster: "nats-a");
        StartEngine("nhost-2", cluster: "nats-aa");

        await JetStreamTestKit.EventuallyAsync(
            () => Task.FromResult(_engines.All(e => e.Engine.GetLinks() is [{ State: LinkState.Running, AlsoFederatedBy: [_] }])),
            Describe,
            Deadline);

        foreach (var (self, cluster, other, otherCluster, index) in new[] { ("nhost-1", "nats-a", "nhost-2", "nats-aa", 0), ("nhost-2", "nats-aa", "nhost-1", "nats-a", 1) })
        {
            var (engine, logs) = _engines[index];
            Assert.Equal([$"instance '{other}' of federation '{otherCluster}'"], engine.GetLinks()[0].AlsoFederatedBy);
            Assert.Contains($"Instance '{self}' of federation '{cluster}' and instance '{other}' of another federation, '{otherCluster}'", logs.Text, StringComparison.Ordinal);
            Assert.Contains("orders <- nats-b", logs.Text, StringComparison.Ordinal);
            var health = await new FederationHealthCheck(engine).CheckHealthAsync(new HealthCheckContext());
            Assert.Equal(HealthStatus.Degraded, health.Status);
            Assert.Contains("also run by another federation", health.Description, StringComparison.Ordinal);
        }
    }

    private string Describe() => string.Join(
        "; ",
        _engines.SelectMany(e => e.Engine.GetLinks()).Select(l => $"{l.Instance}: {l.Exchange} {l.State} holder={l.LeaseHolder} also={string.Join(",", l.AlsoFederatedBy ?? [])} {l.Error} {l.Waiting}"));

    private void StartEngine(string instance, string cluster)
    {
        var options = new FederationOptions
        {
            InstanceName = instance,
            Downstream =
            {
                Uri = $"{_downstream.Url}?cluster-name={cluster}&monitor-port={_downstream.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces=orders",
            },
        };
        options.Upstreams["nats-b"] = new UpstreamDefinition
        {
            Uris = { $"{_upstream.Url}?cluster-name=nats-b" },
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
