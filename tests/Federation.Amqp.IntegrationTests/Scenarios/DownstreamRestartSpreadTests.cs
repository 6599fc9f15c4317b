using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// Two engines spread four links over a real downstream node, which is then stopped and started again: both must announce
/// themselves on the new downstream connection and hear each other, so that the links spread two and two again (an
/// instance that hears nobody takes every link it can and, stopped, deletes upstream queues another instance needs).
/// </summary>
[Collection(RestartScenarioCollection.Name)]
public sealed class DownstreamRestartSpreadTests(RestartScenarioNodesFixture nodes) : IAsyncLifetime
{
    private const int Links = 4;
    private readonly ScenarioContext context = new();
    private readonly CapturedLogs logs = new();
    private readonly string prefix = ScenarioContext.UniqueName("fed.presence") + ".";

    private IEnumerable<string> Exchanges => Enumerable.Range(0, Links).Select(i => prefix + i.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public async Task InitializeAsync()
    {
        foreach (var exchange in Exchanges)
        {
            await context.DeclareExchangeAsync(nodes.Downstream, exchange);
            context.DeleteLater(nodes.Upstream, exchange);
            context.DeleteLater(nodes.Downstream, exchange);
        }
    }

    public async Task DisposeAsync()
    {
        await nodes.Downstream.StartAsync();
        await context.DisposeAsync();
        logs.Dispose();
    }

    [Fact]
    public async Task After_the_downstream_restarts_the_instances_hear_each_other_again_and_spread_the_links()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var one = await StartEngineAsync("pres-1");
        var two = await StartEngineAsync("pres-2");
        await WaitForSpreadAsync(one, two);

        await nodes.Downstream.StopAsync(timeout.Token);
        await nodes.Downstream.StartAsync(timeout.Token);

        // Reconnecting is not what this test is about, and its backoff grows while the node is down (5 s doubling up to
        // 60 s): on a loaded machine, where stopping and starting the node takes half a minute, the next attempt may come a
        // minute after the node is back. So the engines get that long to reconnect, and the spread is timed from there.
        await UntilAsync(() => one.IsDownstreamConnected && two.IsDownstreamConnected, "both engines connected to the restarted downstream again", TimeSpan.FromSeconds(150), one, two);
        await WaitForSpreadAsync(one, two);

        // The downstream going away is reported by the downstream connection; presence just follows it to the new session.
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Id == 1204 && e.Level == Microsoft.Extensions.Logging.LogLevel.Warning);
    }

    private Task WaitForSpreadAsync(FederationEngine one, FederationEngine two) =>
        UntilAsync(() => Running(one) == Links / 2 && Running(two) == Links / 2, "two links running on each engine", TimeSpan.FromSeconds(90), one, two);

    /// <summary>Polls <paramref name="condition"/>; at the deadline fails with both engines' state and what they logged meanwhile.</summary>
    private async Task UntilAsync(Func<bool> condition, string what, TimeSpan deadline, FederationEngine one, FederationEngine two)
    {
        var since = logs.Now;
        try
        {
            await Poll.UntilAsync(() => Task.FromResult<object?>(condition() ? true : null), what, deadline);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"Not {what} within {deadline.TotalSeconds} s: {Describe(one, two)}; logged meanwhile:\n{logs.Timeline(since, Microsoft.Extensions.Logging.LogLevel.Information)}");
        }
    }

    private static string Describe(FederationEngine one, FederationEngine two) =>
        string.Join("; ", new[] { one, two }.Select(e =>
            $"downstream {(e.IsDownstreamConnected ? "connected" : $"not connected ({e.DownstreamError})")}, links " +
            string.Join(", ", e.GetLinks().Select(l => $"{l.Exchange[^1..]} {l.State} on {l.RunningOn}"))));

    private static int Running(FederationEngine engine) => engine.GetLinks().Count(l => l.State == LinkState.Running);

    private Task<FederationEngine> StartEngineAsync(string instance)
    {
        var options = new FederationOptions { InstanceName = instance, Downstream = { Uri = nodes.Downstream.AmqpUri() } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { nodes.Upstream.AmqpUri() }, ReconnectDelaySeconds = 1, ResourceCleanupMode = ResourceCleanupMode.Never };
        options.Policies["spread"] = new FederationPolicy
        {
            Pattern = "^" + System.Text.RegularExpressions.Regex.Escape(prefix),
            ApplyTo = "exchanges",
            Definition = new FederationPolicyDefinition { FederationUpstream = "up" },
        };
        return context.StartEngineAsync(options, loggerFactory: logs);
    }
}
