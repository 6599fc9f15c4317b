using Federation.Core.Links;
using Federation.Core.Tests.Support;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A link that stands by for another instance logs why it waits once (event 1101), as the README says, not again at
/// every fallback poll: the poll is refused with "held by ..." and the link then stands by again, which alternated two
/// reasons and logged both every 15–30 s per link, forever, on every instance (found by a black-box run of three hosts).
/// </summary>
public sealed class StandingByLogTests
{
    private const int Links = 6;

    [Fact]
    public async Task A_link_standing_by_logs_why_it_waits_once_not_at_every_fallback_poll()
    {
        using var logs = new CapturingLoggerProvider();
        using var factory = logs.AsFactory();
        await using var cluster = new InstanceCluster(Links);
        await cluster.DeclareExchangesAsync();
        await cluster.StartAsync("host-a", loggerFactory: factory);
        await cluster.StartAsync("host-b");
        await cluster.AdvanceUntilAsync(() => cluster.Spread(slack: 0), TimeSpan.FromSeconds(30), cluster.Describe);

        // Let the waiting links settle on their reasons, then watch several fallback periods (15 s and 30 s by default).
        await AdvanceAsync(cluster, TimeSpan.FromSeconds(5));
        var before = logs.WithId(1101).Count;
        var waiting = cluster.LinksOf("host-a").Count(l => l.State == LinkState.Waiting);
        Assert.Equal(Links / 2, waiting);

        await AdvanceAsync(cluster, TimeSpan.FromSeconds(120));

        Assert.True(cluster.Spread(slack: 0), cluster.Describe());
        var repeated = logs.WithId(1101).Skip(before).Select(e => e.Message).ToList();
        Assert.True(repeated.Count == 0, $"{repeated.Count} further 'waits' lines in 120 s of steady state, e.g.: {string.Join(" | ", repeated.Take(4))}");
    }

    // Moves the fake clock a quarter second at a time, letting the engines act between steps.
    private static async Task AdvanceAsync(InstanceCluster cluster, TimeSpan span)
    {
        for (var done = TimeSpan.Zero; done < span; done += TimeSpan.FromMilliseconds(250))
        {
            cluster.Time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(Testbed.PollInterval);
        }
    }
}
