using System.Diagnostics.Metrics;
using System.Text;
using Federation.Core.Diagnostics;
using Federation.Core.Hosting;
using Federation.Core.InMemory;
using Federation.Core.Links;
using Federation.Core.Tests.Engine;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Federation.Core.Tests.Hosting;

/// <summary>The host integration: configuration binding, validation at start, reloads, health and metrics.</summary>
[Collection(nameof(MetricsCollection))]
public sealed class AddFederationTests
{
    private const string Json = """
        {
          "Federation": {
            "ClusterName": "london",
            "Downstream": { "uri": "memory://london/%2f" },
            "Upstreams": { "tokyo": { "uri": "memory://guest:s3cret@tokyo/%2f", "max-hops": 1, "ack-mode": "on-confirm" } },
            "Policies": {
              "exchange-federation": { "pattern": "^federated\\.", "apply-to": "exchanges", "priority": 10,
                                       "definition": { "federation-upstream-set": "all" } }
            }
          }
        }
        """;

    private static IHost BuildHost(IConfiguration configuration, InMemoryBrokerRegistry registry, CapturingLoggerProvider? logs = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddConfiguration(configuration);
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
        }

        builder.Services.AddFederation(builder.Configuration.GetSection("Federation")).UseInMemoryBrokers(registry);
        return builder.Build();
    }

    [Fact]
    public async Task The_configuration_contract_federates_and_the_host_reports_status_and_health()
    {
        var registry = new InMemoryBrokerRegistry();
        registry.GetOrAdd("london", "london");
        var tokyo = registry.GetOrAdd("tokyo", "tokyo");
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(Json))).Build();
        using var host = BuildHost(configuration, registry);
        await host.StartAsync();

        var london = await registry.GetOrAdd("london").ConnectAsync();
        await london.DeclareExchangeAsync(new ExchangeSpec("federated.orders", ExchangeSpec.Types.Topic), CancellationToken.None);
        var status = host.Services.GetRequiredService<IFederationStatus>();
        await Testbed.Eventually(() => status.GetLinks() is [{ State: LinkState.Running }], () => "link running");
        var link = status.GetLinks()[0];
        Assert.Equal(("federated.orders", "tokyo", "memory://tokyo/%2f"), (link.Exchange, link.Upstream, link.Uri));
        Assert.DoesNotContain("s3cret", link.ToString(), StringComparison.Ordinal);
        Assert.True(tokyo.QueueExists("/", "federation: federated.orders -> london"));

        var health = await host.Services.GetRequiredService<FederationHealthCheck>().CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Healthy, health.Status);

        await host.StopAsync();
        Assert.False(tokyo.QueueExists("/", "federation: federated.orders -> london"));
    }

    [Fact]
    public async Task Invalid_configuration_fails_host_start_naming_key_and_value()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Federation:Downstream:uri"] = "memory://london/%2f",
            ["Federation:Upstreams:tokyo:uri"] = "memory://tokyo/%2f",
            ["Federation:Upstreams:tokyo:ack-mode"] = "sometimes",
        }).Build();
        using var host = BuildHost(configuration, new InMemoryBrokerRegistry());
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("ack-mode", error.Message, StringComparison.Ordinal);
        Assert.Contains("sometimes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_configuration_reload_starts_and_stops_links()
    {
        var registry = new InMemoryBrokerRegistry();
        registry.GetOrAdd("london", "london");
        registry.GetOrAdd("tokyo", "tokyo");
        var values = new Dictionary<string, string?>
        {
            ["Federation:Downstream:uri"] = "memory://london/%2f",
            ["Federation:Upstreams:tokyo:uri"] = "memory://tokyo/%2f",
        };
        var source = new ReloadableConfigurationSource(values);
        var configuration = new ConfigurationBuilder().Add(source).Build();
        var logs = new CapturingLoggerProvider();
        using var host = BuildHost(configuration, registry, logs);
        await host.StartAsync();
        var london = await registry.GetOrAdd("london").ConnectAsync();
        await london.DeclareExchangeAsync(new ExchangeSpec("federated.orders", ExchangeSpec.Types.Topic), CancellationToken.None);
        var status = host.Services.GetRequiredService<IFederationStatus>();
        await Testbed.Eventually(() => status.IsDownstreamConnected, () => "connected");
        Assert.Empty(status.GetLinks());

        source.Set("Federation:Policies:p:pattern", "^federated\\.");
        source.Set("Federation:Policies:p:definition:federation-upstream", "tokyo");
        source.Reload();
        await Testbed.Eventually(() => status.GetLinks() is [{ State: LinkState.Running }], () => "link started by reload");
        var running = status.GetLinks()[0];

        // A broken reload is rejected and the running configuration stays: the same link, still running since the same
        // moment (not restarted), with its upstream queue.
        source.Set("Federation:Upstreams:tokyo:max-hops", "many");
        source.Reload();
        await Testbed.Eventually(
            () => logs.Entries.Any(e => e.Level == LogLevel.Warning && e.Message.Contains("max-hops", StringComparison.Ordinal)),
            () => "the broken reload refused with a warning");
        var kept = Assert.Single(status.GetLinks());
        Assert.Equal((running.Id, LinkState.Running, running.Since), (kept.Id, kept.State, kept.Since));
        Assert.True(registry.GetOrAdd("tokyo").QueueExists("/", "federation: federated.orders -> london"));

        source.Set("Federation:Upstreams:tokyo:max-hops", null);
        source.Set("Federation:Policies:p:pattern", null);
        source.Set("Federation:Policies:p:definition:federation-upstream", null);
        source.Reload();
        await Testbed.Eventually(() => status.GetLinks().Count == 0, () => "link stopped by reload");
        await host.StopAsync();
    }

    [Fact]
    public async Task Health_is_unhealthy_without_downstream_and_degraded_with_a_failing_link()
    {
        var registry = new InMemoryBrokerRegistry();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Federation:Downstream:uri"] = "memory://london/%2f",
            ["Federation:Upstreams:tokyo:uri"] = "memory://tokyo/%2f",
            ["Federation:Policies:p:pattern"] = ".*",
            ["Federation:Policies:p:definition:federation-upstream"] = "tokyo",
        }).Build();
        using var host = BuildHost(configuration, registry);
        await host.StartAsync();
        var check = host.Services.GetRequiredService<FederationHealthCheck>();
        Assert.Equal(HealthStatus.Unhealthy, (await check.CheckHealthAsync(new HealthCheckContext())).Status);

        // The health check says why, once the first attempt has failed: an operator should not have to read the log.
        var status = host.Services.GetRequiredService<IFederationStatus>();
        await Testbed.Eventually(() => status.DownstreamError is not null, () => "the first attempt's failure");
        var unhealthy = await check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Unhealthy, unhealthy.Status);
        Assert.Equal($"The downstream broker is not connected: {status.DownstreamError}", unhealthy.Description);
        Assert.Contains("london", unhealthy.Description, StringComparison.Ordinal);

        var london = registry.GetOrAdd("london", "london");
        await Testbed.Eventually(() => status.IsDownstreamConnected, () => "connected after retry", TimeSpan.FromSeconds(15));
        Assert.Null(status.DownstreamError);
        await (await london.ConnectAsync()).DeclareExchangeAsync(new ExchangeSpec("orders", "topic"), CancellationToken.None);
        await Testbed.Eventually(() => check.CheckHealthAsync(new HealthCheckContext()).Result.Status == HealthStatus.Degraded, () => "degraded: tokyo does not exist");
        await host.StopAsync();
    }

    [Fact]
    public async Task Metrics_count_forwarded_and_dropped_messages_and_link_states()
    {
        var measurements = new List<(string Name, long Value, string? Reason)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == FederationTelemetry.SourceName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? reason = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "federation.drop.reason")
                {
                    reason = tag.Value as string;
                }
            }

            lock (measurements)
            {
                measurements.Add((instrument.Name, value, reason));
            }
        });
        listener.Start();

        await using var bed = new Testbed();
        var engine = await bed.StartEngineAsync("D", o => o.Upstream("u", "U").Policy("fed", "^fed$", upstream: "u"));
        await Testbed.DeclareExchangeAsync(await bed.ConnectAsync("D"), "fed");
        var queue = await bed.BindQueueAsync("D", "fed", "k");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await bed.WaitForBindingsAsync("U", "fed", "k", 1);
        var publisher = await bed.ConnectAsync("U");
        var travelled = new MessageProperties();
        travelled.Headers = Federation.Core.Hops.HopRules.PrependReceivedFrom(travelled.Headers, new("memory://X/%2F", "fed", false, "X", "/"));
        await Testbed.PublishAsync(publisher, "fed", "k", "too-far", travelled);
        await Testbed.PublishAsync(publisher, "fed", "k", "one");
        await queue.ExpectAsync("one");

        long Sum(string name, string? reason = null)
        {
            lock (measurements)
            {
                return measurements.Where(m => m.Name == name && (reason is null || m.Reason == reason)).Sum(m => m.Value);
            }
        }

        await Testbed.Eventually(() => Sum("federation.link.messages.forwarded") >= 1, () => "forwarded counted");
        Assert.True(Sum("federation.link.bindings.propagated") >= 1);
        await Testbed.Eventually(() => Sum("federation.link.messages.dropped", "max_hops") == 1, () => "drop counted with its reason");
    }
}

[CollectionDefinition(nameof(MetricsCollection), DisableParallelization = true)]
public sealed class MetricsCollection;
