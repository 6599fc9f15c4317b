using System.Net;
using System.Text.Json;

namespace FederationHost.Tests;

/// <summary>
/// Web pages in the operator's browser cannot restart links (a cross-site POST) or read the endpoints through a name
/// pointed at 127.0.0.1 (DNS rebinding); the status page's own button, the <c>restart</c> command and curl still can.
/// </summary>
public sealed class BrowserRequestGuardTests
{
    [Fact]
    public async Task A_restart_posted_by_another_site_is_refused_and_restarts_nothing()
    {
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("csrf"));
        await using var app = await host.DeclareExchangeAsync("csrf-local", "federated.orders");
        var links = await Eventually.UntilAsync(
            () => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "a running link");
        var (id, since) = (links[0].GetProperty("id").GetString()!, links[0].GetProperty("since").GetString());

        foreach (var (header, value) in new[] { ("Origin", "http://attacker.example"), ("Origin", "null"), ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Site", "same-site") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/federation/links/{id}/restart");
            request.Headers.TryAddWithoutValidation(header, value);
            using var refused = await host.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString();
            Assert.Contains(value, error, StringComparison.Ordinal);
        }

        // Nothing restarted: the link is running since the same moment.
        var after = await host.GetLinksAsync();
        Assert.Equal(since, Assert.Single(after).GetProperty("since").GetString());

        // The status page's own button: same origin, as a browser sends it.
        using var own = new HttpRequestMessage(HttpMethod.Post, $"/federation/links/{id}/restart");
        own.Headers.TryAddWithoutValidation("Origin", host.Http.BaseAddress!.GetLeftPart(UriPartial.Authority));
        own.Headers.TryAddWithoutValidation("Sec-Fetch-Site", "same-origin");
        using var accepted = await host.Http.SendAsync(own);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
    }

    [Fact]
    public async Task A_request_addressed_to_another_name_is_refused_while_the_host_listens_on_loopback()
    {
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("rebind"));
        var port = host.Http.BaseAddress!.Port;

        using var rebound = new HttpRequestMessage(HttpMethod.Get, "/federation/links");
        rebound.Headers.Host = $"attacker.example:{port}";
        using var refused = await host.Http.SendAsync(rebound);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("attacker.example", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        foreach (var name in new[] { "localhost", "127.0.0.1", "LOCALHOST", "127.0.0.2" })
        {
            using var local = new HttpRequestMessage(HttpMethod.Get, "/federation/links");
            local.Headers.Host = $"{name}:{port}";
            using var served = await host.Http.SendAsync(local);
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        }
    }
}
