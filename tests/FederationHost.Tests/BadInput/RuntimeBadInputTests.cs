using System.Net;
using Federation.Testing.Brokers;

namespace FederationHost.Tests.BadInput;

/// <summary>
/// Bad input while the host runs: query parameters that are not a boolean, link ids that do not exist, and upstream URIs
/// carrying secrets that fail at runtime (a closed port), whose secret must show nowhere the host writes.
/// </summary>
public sealed class RuntimeBadInputTests
{
    private const string Secret = "runt1me-S3cret-never-shown";

    /// <summary>Query strings for <c>/federation/links</c> that are not one clear boolean.</summary>
    public static TheoryData<string> BadOnlyDownQueries => new()
    {
        "?only-down=1",
        "?only-down=0",
        "?only-down=yes",
        "?only-down=maybe",
        "?only-down=true&only-down=false",
        "?only-down=true&only-down=true",
    };

    /// <summary>Link ids that no link has (decoded by the router before the endpoint sees them).</summary>
    public static TheoryData<string> UnknownLinkIds => new() { "nope", "00000000", "..%2F..%2Fetc", "%27%20OR%201%3D1" };

    /// <summary>Upstream URIs with a secret (<c>{secret}</c>) against a closed loopback port (<c>{port}</c>); the link fails and reports why.</summary>
    public static TheoryData<string> SecretBearingUpstreams => new()
    {
        "amqp://federator:{secret}@127.0.0.1:{port}/%2f",
        "amqp://federator:{secret}@127.0.0.1:{port}/%2f?heartbeat=5&connection_timeout=2000",
        "amqps://federator:{secret}@127.0.0.1:{port}/%2f",
        "nats://federator:{secret}@127.0.0.1:{port}",
        "nats://{secret}@127.0.0.1:{port}",
        "tls://federator:{secret}@127.0.0.1:{port}",

        // Reserved characters left unencoded in the user part: the URI still parses (with the wrong host), so it runs.
        "amqp://federator:1234/{secret}@127.0.0.1:{port}/%2f",
        "nats://tok/{secret}@127.0.0.1:{port}",
    };

    [Theory]
    [MemberData(nameof(BadOnlyDownQueries))]
    public async Task A_bad_only_down_value_is_a_400_naming_the_parameter(string query)
    {
        await using var host = await RunningHost.StartAsync(new ReloadableConfigurationSource(ReloadCases.Baseline));
        using var response = await host.Http.GetAsync("/federation/links" + query);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"GET /federation/links{query}: expected 400, got {(int)response.StatusCode} {body}");
        Assert.Contains("only-down", body, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(UnknownLinkIds))]
    public async Task An_unknown_link_id_is_a_404_for_status_and_restart(string id)
    {
        await using var host = await RunningHost.StartAsync(new ReloadableConfigurationSource(ReloadCases.Baseline));
        using var restart = await host.Http.PostAsync($"/federation/links/{id}/restart", content: null);
        Assert.Equal(HttpStatusCode.NotFound, restart.StatusCode);
        using var status = await host.Http.GetAsync($"/federation/links/{id}");
        Assert.Equal(HttpStatusCode.NotFound, status.StatusCode);
        Assert.Contains("\"error\"", await restart.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(SecretBearingUpstreams))]
    public async Task A_failing_upstream_never_shows_its_secret(string template)
    {
        var uri = template.Replace("{secret}", Secret, StringComparison.Ordinal)
            .Replace("{port}", FreePorts.Next().ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var settings = new Dictionary<string, string?>(ReloadCases.Baseline, StringComparer.OrdinalIgnoreCase)
        {
            ["Federation:Upstreams:remote:uri"] = uri,
        };
        var logs = new CapturedLogs();
        RunningHost host;
        try
        {
            host = await RunningHost.StartAsync(settings, logs);
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException refused)
        {
            // A URI whose user information reads two ways is refused at start: then the refusal must not show the secret.
            OutputChecks.NoSecret(refused.Message, [Secret], "the start-up refusal");
            OutputChecks.NoSecret(logs.Text, [Secret], "the log");
            return;
        }

        await using var running = host;
        await using var app = await host.DeclareExchangeAsync(ReloadCases.LocalBroker, "federated.orders");

        var links = await Eventually.UntilAsync(
            () => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "error", "the link in error against the closed port");
        var id = links[0].GetProperty("id").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(links[0].GetProperty("error").GetString()), "A link in error names its cause.");

        OutputChecks.NoSecret(await host.GetServedTextAsync(), [Secret], "/federation/links, /health or /metrics");
        OutputChecks.NoSecret(await host.Http.GetStringAsync($"/federation/links/{id}"), [Secret], $"/federation/links/{id}");
        using var restart = await host.Http.PostAsync($"/federation/links/{id}/restart", content: null);
        OutputChecks.NoSecret(await restart.Content.ReadAsStringAsync(), [Secret], "the restart response");
        OutputChecks.NoSecret(logs.Text, [Secret], "the log");
    }
}
