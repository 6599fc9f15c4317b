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

        await AdvanceAsync(cluster, TimeSpan.FromSeconds(5));
        Assert.Equal(Links / 2, cluster.LinksOf("host-a").Count(l => l.State == LinkState.Waiting));

        // Several fallback periods (15 s and 30 s by default): a standing-by link polls its lease, is refused ("held by
        // ..."), and stands by again.
        await AdvanceAsync(cluster, TimeSpan.FromSeconds(120));
        Assert.True(cluster.Spread(slack: 0), cluster.Describe());

        // Each reason once per wait: a wait ends when the link takes its lease (1102). Which reasons a wait meets, and
        // when (the first refused poll may come before or after the spread settles), depends on timing; a repeat does not.
        var repeats = new List<string>();
        var logged = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var entry in logs.Entries.Where(e => e.EventId.Id is 1101 or 1102))
        {
            var link = entry.Message.Split(' ')[1];
            if (entry.EventId.Id == 1102)
            {
                logged.Remove(link);
            }
            else if (!(logged.TryGetValue(link, out var reasons) ? reasons : logged[link] = new HashSet<string>(StringComparer.Ordinal)).Add(entry.Message))
            {
                repeats.Add(entry.Message);
            }
        }

        Assert.True(repeats.Count == 0, $"{repeats.Count} 'waits' lines repeated within one wait, e.g.: {string.Join(" | ", repeats.Take(4))}");
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
