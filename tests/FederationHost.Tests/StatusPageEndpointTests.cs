using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Federation.Core.Transport;

namespace FederationHost.Tests;

/// <summary><c>GET /</c> and <c>GET /federation/links/traffic</c> over HTTP, without a browser: headers, self-containment, counts.</summary>
public sealed partial class StatusPageEndpointTests
{
    [Fact]
    public async Task The_page_is_self_contained_html_under_a_policy_that_allows_no_other_origin()
    {
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("pagehttp"));

        using var response = await host.Http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        var policy = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.StartsWith("default-src 'none'; script-src 'sha256-", policy, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("http", policy, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());

        var html = await response.Content.ReadAsStringAsync();
        // Nothing is loaded from elsewhere: no external script, stylesheet, font or image, and no absolute URL at all.
        Assert.DoesNotMatch(ExternalReference(), html);
        Assert.DoesNotContain("innerHTML", html, StringComparison.Ordinal);
        Assert.DoesNotContain(RunningHost.Secret, html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Traffic_counts_forwarded_messages_per_exchange_and_upstream()
    {
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("traffic"));
        await using var local = await host.DeclareExchangeAsync("traffic-local", "federated.orders");
        await local.DeclareQueueAsync(new QueueSpec("desk"), CancellationToken.None);
        await local.BindAsync(new BindingSpec("federated.orders", "desk", BindingDestinationKind.Queue, "order.#"), noWait: false, CancellationToken.None);
        await Eventually.UntilAsync(() => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "a running link");
        var remote = host.Brokers.GetOrAdd("traffic-remote");
        await Eventually.UntilAsync(() => Task.FromResult(remote.GetBindings("/", "federated.orders").Count), c => c >= 1, "the binding propagated upstream");

        await using var upstream = await remote.ConnectAsync();
        await using var publisher = await upstream.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
        for (var i = 0; i < 3; i++)
        {
            await publisher.PublishAsync("federated.orders", "order.created", new MessageProperties(), Encoding.UTF8.GetBytes("one"), CancellationToken.None);
        }

        var traffic = await Eventually.UntilAsync(
            async () => JsonSerializer.Deserialize<JsonElement[]>(await host.Http.GetStringAsync("/federation/links/traffic")) ?? [],
            t => t is [var only] && only.GetProperty("forwarded").GetDouble() >= 3,
            "three forwarded messages counted");
        Assert.Equal("federated.orders", traffic[0].GetProperty("exchange").GetString());
        Assert.Equal("remote", traffic[0].GetProperty("upstream").GetString());
        Assert.Equal(0, traffic[0].GetProperty("dropped").GetDouble());
    }

    [GeneratedRegex("""(src|href)\s*=|https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import|url\(""", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalReference();
}
