using Federation.Core.Links;
using Federation.Core.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Links;

/// <summary>What a link shows and logs about dropped messages: counts by reason, one warning per loss episode.</summary>
public sealed class LinkDropsTests
{
    [Fact]
    public void Nothing_dropped_shows_no_counts()
    {
        using var logs = new CapturingLoggerProvider();
        var drops = new LinkDrops("abcd1234", logs.CreateLogger("t"));

        drops.Forwarded();

        Assert.Null(drops.Snapshot);
        Assert.Empty(logs.Entries);
    }

    [Fact]
    public void Losses_are_counted_by_reason_and_logged_once_per_episode()
    {
        using var logs = new CapturingLoggerProvider();
        var drops = new LinkDrops("abcd1234", logs.CreateLogger("t"));

        drops.Lost("slow_consumer", 3);
        drops.Lost("slow_consumer", 2);
        drops.Lost("downstream_rejected", 1);

        var warning = Assert.Single(logs.WithId(1011));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("slow_consumer", warning.Message, StringComparison.Ordinal);
        Assert.Contains("abcd1234", warning.Message, StringComparison.Ordinal);
        Assert.Equal(new Dictionary<string, long> { ["downstream_rejected"] = 1, ["slow_consumer"] = 5 }, drops.Snapshot);

        drops.Forwarded();
        drops.Forwarded();

        var end = Assert.Single(logs.WithId(1012));
        Assert.Contains("6 message(s)", end.Message, StringComparison.Ordinal);

        drops.Lost("slow_consumer", 1);
        Assert.Equal(2, logs.WithId(1011).Count);
        Assert.Equal(6, drops.Snapshot!["slow_consumer"]);
    }

    [Fact]
    public void Hop_rule_drops_are_counted_but_open_no_loss_episode()
    {
        using var logs = new CapturingLoggerProvider();
        var drops = new LinkDrops("abcd1234", logs.CreateLogger("t"));

        drops.Intended("max_hops");
        drops.Intended("max_hops");
        drops.Intended("cycle");
        drops.Forwarded();

        Assert.Equal(new Dictionary<string, long> { ["cycle"] = 1, ["max_hops"] = 2 }, drops.Snapshot);
        Assert.Empty(logs.Entries);
    }
}
