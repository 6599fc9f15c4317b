using System.Globalization;
using System.Text.Json;
using Federation.Testing.Brokers;
using Xunit.Abstractions;

namespace FederationHost.Tests.NatsBlackBox;

/// <summary>
/// The issue's measurement as a test: the README's nats:// recipe as written, and the npm <c>nats</c> client publishing
/// 500,000 messages of 256 B on A with at most 10,000 in flight (published, not yet received on B), as the windowed
/// mode of benchmarks/nats-bench.sh does. Core NATS is at-most-once, but with the publisher waiting for the
/// subscriber, nothing needs to be dropped anywhere: the native leafnode loses 0 under this load, so must the link.
/// Run it alone with <c>--filter load=500k</c>.
/// </summary>
[Collection(NatsBlackBoxCollection.Name)]
[Trait("blackbox", "nats")]
public sealed class NatsBlackBoxLoadTests(ITestOutputHelper output)
{
    private const int Count = 500_000;
    private const int Size = 256;
    private const int Window = 10_000;

    // Ends the run when nothing has arrived for this long (a lost message keeps the count short for good).
    private const int StallMs = 5_000;

    // How long interest may take to travel (the /subsz poll and the link's upstream SUB) before the load starts.
    private const int ProbeMs = 30_000;

    // The subscriber on B takes the published subject itself, or a wildcard over the whole namespace (which the link
    // subscribes upstream as two subjects, orders.> and orders, and routes by one of them).
    [Theory]
    [Trait("load", "500k")]
    [InlineData("orders.load.data")]
    [InlineData("orders.>")]
    public async Task Half_a_million_messages_at_a_window_of_ten_thousand_arrive_with_none_lost_and_none_doubled(string subscribedSubject)
    {
        await using var pair = await RecipePair.StartAsync();
        var (exitCode, stdout, stderr) = await NodeScript.RunAsync("nats", "nats-windowed-load.mjs",
            Text(pair.Upstream.Server.Port), Text(pair.Downstream.Server.Port), "orders.load.data", subscribedSubject,
            Text(Count), Text(Size), Text(Window), Text(StallMs), Text(ProbeMs), NatsReadmeRecipe.User, NatsReadmeRecipe.Password);
        Assert.True(exitCode == 0, $"nats-windowed-load.mjs exited with {exitCode}: {stderr}\n{stdout}");

        using var result = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var run = result.RootElement;
        var (forwarded, dropped) = await pair.Host.TrafficAsync();
        var link = await pair.Host.LinkAsync();
        var report =
            $"subscribed to {subscribedSubject}: published {run.GetProperty("published")} of {Count}, received {run.GetProperty("received")}, unique {run.GetProperty("unique")}, " +
            $"lost {run.GetProperty("lost")} (first {run.GetProperty("firstLost")}, last {run.GetProperty("lastLost")}), " +
            $"duplicates {run.GetProperty("duplicates")}, out of order {run.GetProperty("outOfOrder")}, stalled {run.GetProperty("stalled")}, " +
            $"{run.GetProperty("seconds").GetDouble():F1} s, {run.GetProperty("msgsPerSec").GetDouble():F0} msg/s; " +
            $"link: forwarded {forwarded} (probes included), dropped {dropped}, state {link.GetProperty("state")}, error {link.GetProperty("error")}; " +
            $"slow consumers: A {await pair.Upstream.SlowConsumersAsync()}, B {await pair.Downstream.SlowConsumersAsync()}";
        output.WriteLine(report);

        Assert.True(
            run.GetProperty("published").GetInt32() == Count && run.GetProperty("lost").GetInt32() == 0 && run.GetProperty("duplicates").GetInt32() == 0 && run.GetProperty("unique").GetInt32() == Count,
            "500,000 x 256 B at a window of 10,000 through the README's nats:// host: " + report);
    }

    /// <summary>
    /// The issue's three runs against one host, each with a subscriber of its own (a new client process), back to back.
    /// Each run starts once the link has let go upstream of the previous run's subscriber (its probe then proves that
    /// this run's own interest reached the upstream), and must lose nothing from there on.
    /// </summary>
    /// <remarks>
    /// Not waiting made the probe prove nothing: a subscriber that arrives while the host is already removing the last
    /// interest on the subject (after the /subsz answer that decided it, before the UNSUB reaches the upstream) receives
    /// probes through the upstream subscription on its way out, starts its load, and loses what is published until the
    /// host's next poll sees it and subscribes again: the whole first window, when the host is slow to act on its
    /// answer on a loaded machine (see the NATS transport README, "Downstream topology"). A subscriber that replaces
    /// another within one poll keeps the upstream subscription without a break; NatsLinkLossTests covers that with an
    /// overlap, which is deterministic.
    /// </remarks>
    [Fact]
    [Trait("load", "runs")]
    public async Task Back_to_back_runs_with_a_new_subscriber_each_lose_nothing()
    {
        const int PerRun = 100_000;
        const string Subject = "orders.load.data";
        await using var pair = await RecipePair.StartAsync();
        for (var run = 1; run <= 3; run++)
        {
            await pair.WaitForNoUpstreamInterestAsync(Subject);
            var (exitCode, stdout, stderr) = await NodeScript.RunAsync("nats", "nats-windowed-load.mjs",
                Text(pair.Upstream.Server.Port), Text(pair.Downstream.Server.Port), Subject, Subject,
                Text(PerRun), Text(Size), Text(Window), Text(StallMs), Text(ProbeMs), NatsReadmeRecipe.User, NatsReadmeRecipe.Password);
            Assert.True(exitCode == 0, $"run {run}: nats-windowed-load.mjs exited with {exitCode}: {stderr}\n{stdout}\n--- host ---\n{pair.Host.Output}");
            using var result = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
            var outcome = result.RootElement;
            var report = $"run {run}: published {outcome.GetProperty("published")} of {PerRun}, unique {outcome.GetProperty("unique")}, lost {outcome.GetProperty("lost")} " +
                $"(first {outcome.GetProperty("firstLost")}), duplicates {outcome.GetProperty("duplicates")}";
            output.WriteLine(report);
            if (outcome.GetProperty("unique").GetInt32() != PerRun || outcome.GetProperty("duplicates").GetInt32() != 0)
            {
                var (forwarded, dropped) = await pair.Host.TrafficAsync();
                var link = await pair.Host.LinkAsync();
                Assert.Fail(
                    $"{report}; link: forwarded {forwarded} (probes included), dropped {dropped}, state {link.GetProperty("state")}, error {link.GetProperty("error")}; " +
                    $"upstream subscriptions on {Subject}: {await pair.Upstream.SubscriptionCountAsync(Subject)}; slow consumers: A {await pair.Upstream.SlowConsumersAsync()}, B {await pair.Downstream.SlowConsumersAsync()}" +
                    $"\n--- host ---\n{pair.Host.Output}");
            }
        }
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
