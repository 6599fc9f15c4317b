using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Federation.Core.Transport;

namespace FederationHost.Tests;

/// <summary><c>/metrics</c> exports the library's meter in the Prometheus text format, through the OpenTelemetry SDK's Prometheus exporter.</summary>
[Collection(InProcessMetricsCollection.Name)]
public sealed partial class MetricsEndpointTests
{
    [Fact]
    public async Task Metrics_expose_forwarded_messages_and_link_states()
    {
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("metrics"));
        await using var local = await host.DeclareExchangeAsync("metrics-local", "federated.orders");
        await local.DeclareQueueAsync(new QueueSpec("desk"), CancellationToken.None);
        await local.BindAsync(new BindingSpec("federated.orders", "desk", BindingDestinationKind.Queue, "order.#"), noWait: false, CancellationToken.None);
        await Eventually.UntilAsync(() => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "a running link");
        // The binding must reach the upstream exchange before a message published there is routed to the link.
        var remote = host.Brokers.GetOrAdd("metrics-remote");
        await Eventually.UntilAsync(() => Task.FromResult(remote.GetBindings("/", "federated.orders").Count), c => c >= 1, "the binding propagated upstream");

        using var response = await host.Http.GetAsync("/metrics");
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        var before = await response.Content.ReadAsStringAsync();
        // The OpenTelemetry SDK's Prometheus exporter: every sample carries the meter as otel_scope_name/otel_scope_version,
        // the resource is target_info, and a counter appears once it has been added to.
        Assert.Contains("target_info{service_name=\"FederationHost\",", before, StringComparison.Ordinal);
        Assert.Contains("# TYPE federation_links gauge\n", before, StringComparison.Ordinal);
        Assert.Matches(LinksSample("running", 1), before);
        Assert.Matches(LinksSample("error", 0), before);
        Assert.Contains("# TYPE federation_link_bindings_propagated_total counter\n", before, StringComparison.Ordinal);
        Assert.Contains("federation_link_bindings_propagated_total{otel_scope_name=\"Federation.Core\",", before, StringComparison.Ordinal);
        Assert.DoesNotContain(RunningHost.Secret, before, StringComparison.Ordinal);
        var forwardedBefore = Forwarded(before);

        await using var upstream = await remote.ConnectAsync();
        await using var publisher = await upstream.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
        await publisher.PublishAsync("federated.orders", "order.created", new MessageProperties(), Encoding.UTF8.GetBytes("one"), CancellationToken.None);

        var after = await Eventually.UntilAsync(host.GetMetricsAsync, m => Forwarded(m) >= forwardedBefore + 1, "the forwarded counter to increase");
        Assert.Contains("# TYPE federation_link_messages_forwarded_total counter\n", after, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Histograms_in_seconds_have_the_explicit_buckets()
    {
        // A meter of the test's own, named in Host:Metrics:Meters, with a histogram in seconds as the libraries record them.
        using var meter = new System.Diagnostics.Metrics.Meter("FederationHost.Tests.Buckets." + Guid.NewGuid().ToString("N"));
        var settings = RunningHost.DefaultSettings("buckets");
        settings["Host:Metrics:Meters:0"] = meter.Name;
        await using var host = await RunningHost.StartAsync(settings);
        var duration = meter.CreateHistogram<double>("test.operation.duration", "s");
        duration.Record(0.003);

        var metrics = await Eventually.UntilAsync(host.GetMetricsAsync, m => m.Contains("test_operation_duration_seconds_bucket", StringComparison.Ordinal), "the histogram exported");
        Assert.Contains("# TYPE test_operation_duration_seconds histogram\n", metrics, StringComparison.Ordinal);
        var bounds = Regex.Matches(metrics, """^test_operation_duration_seconds_bucket\{[^}]*le="([^"]+)"\} (\d+)""", RegexOptions.Multiline)
            .Select(m => (Le: m.Groups[1].Value, Count: long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))
            .ToList();
        Assert.Equal(
            ["0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"],
            bounds.Select(b => b.Le));
        Assert.Equal(0, bounds.Single(b => b.Le == "0.0025").Count);
        Assert.Equal(1, bounds.Single(b => b.Le == "0.005").Count);
    }

    private static Regex LinksSample(string state, int count) =>
        new("^federation_links\\{" + ScopeLabels + $"federation_instance=\"[^\"]+\",federation_link_state=\"{state}\"\\}} {count}$", RegexOptions.Multiline);

    /// <summary>The exporter's meter labels, which come first in every sample.</summary>
    private const string ScopeLabels = """otel_scope_name="Federation\.Core",otel_scope_version="[^"]*",""";

    /// <summary>The forwarded count for the test's link, 0 before the first forward (no sample yet).</summary>
    private static double Forwarded(string metrics)
    {
        var match = ForwardedSample().Match(metrics);
        return match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    [GeneratedRegex("""^federation_link_messages_forwarded_total\{otel_scope_name="Federation\.Core",otel_scope_version="[^"]*",federation_exchange="federated\.orders",federation_instance="[^"]+",federation_upstream="remote"\} (\S+)$""", RegexOptions.Multiline)]
    private static partial Regex ForwardedSample();
}
