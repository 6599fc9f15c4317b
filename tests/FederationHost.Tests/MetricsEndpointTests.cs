using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Federation.Core.Transport;

namespace FederationHost.Tests;

/// <summary><c>/metrics</c> exports the library's meter in the Prometheus text format.</summary>
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
        Assert.Contains("# TYPE federation_link_messages_forwarded_total counter\n", before, StringComparison.Ordinal);
        Assert.Contains("# TYPE federation_links gauge\n", before, StringComparison.Ordinal);
        Assert.Contains("federation_links{federation_link_state=\"running\"} 1\n", before, StringComparison.Ordinal);
        Assert.Contains("federation_links{federation_link_state=\"error\"} 0\n", before, StringComparison.Ordinal);
        Assert.Contains("federation_link_bindings_propagated_total{", before, StringComparison.Ordinal);
        Assert.DoesNotContain(RunningHost.Secret, before, StringComparison.Ordinal);
        var forwardedBefore = Forwarded(before);

        await using var upstream = await remote.ConnectAsync();
        await using var publisher = await upstream.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
        await publisher.PublishAsync("federated.orders", "order.created", new MessageProperties(), Encoding.UTF8.GetBytes("one"), CancellationToken.None);

        await Eventually.UntilAsync(host.GetMetricsAsync, m => Forwarded(m) >= forwardedBefore + 1, "the forwarded counter to increase");
    }

    /// <summary>The forwarded count for the test's link, 0 before the first forward (no sample yet).</summary>
    private static double Forwarded(string metrics)
    {
        var match = ForwardedSample().Match(metrics);
        return match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    [GeneratedRegex("""^federation_link_messages_forwarded_total\{federation_exchange="federated\.orders",federation_upstream="remote"\} (\S+)$""", RegexOptions.Multiline)]
    private static partial Regex ForwardedSample();
}
