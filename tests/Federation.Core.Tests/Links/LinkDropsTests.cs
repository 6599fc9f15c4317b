using Federation.Core.Links;
using Federation.Core.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Links;

/// <summary>
/// What a link shows and logs about dropped messages: counts by reason, exact per message; one warning (1011) per loss
/// episode, and one line with its count when it ends: once the link has forwarded for the settle period without a loss
/// (1012), or when the link stops (1032 unless it forwarded since its last loss).
/// </summary>
public sealed class LinkDropsTests : IDisposable
{
    private static readonly TimeSpan Settle = LossEpisode.SettlePeriod;
    private static readonly TimeSpan Tick = TimeSpan.FromTicks(1);
    private readonly CapturingLoggerProvider _logs = new();
    private readonly FakeTimeProvider _time = new();
    private readonly LinkDrops _drops;

    public LinkDropsTests() => _drops = new LinkDrops("abcd1234", _logs.CreateLogger("t"), _time);

    public void Dispose() => _logs.Dispose();

    [Fact]
    public void Nothing_dropped_shows_no_counts()
    {
        _drops.Forwarded();
        _time.Advance(Settle);

        Assert.Null(_drops.Snapshot);
        Assert.Empty(_logs.Entries);
    }

    [Fact]
    public void Losses_are_counted_by_reason_and_logged_once_per_episode()
    {
        _drops.Lost("slow_consumer", 3);
        _drops.Lost("slow_consumer", 2);
        _drops.Lost("downstream_rejected", 1);

        var warning = Assert.Single(_logs.WithId(1011));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("slow_consumer", warning.Message, StringComparison.Ordinal);
        Assert.Contains("abcd1234", warning.Message, StringComparison.Ordinal);
        Assert.Equal(new Dictionary<string, long> { ["downstream_rejected"] = 1, ["slow_consumer"] = 5 }, _drops.Snapshot);

        // Forwarding again ends the episode only once it has gone on for the settle period without a loss.
        _drops.Forwarded();
        _drops.Forwarded();
        Assert.Empty(_logs.WithId(1012));
        _time.Advance(Settle);

        var end = Assert.Single(_logs.WithId(1012));
        Assert.Equal(LogLevel.Information, end.Level);
        Assert.Contains("6 message(s)", end.Message, StringComparison.Ordinal);

        // After the settle period, a loss opens a new episode, logged again.
        _drops.Lost("slow_consumer", 1);
        Assert.Equal(2, _logs.WithId(1011).Count);
        Assert.Equal(6, _drops.Snapshot!["slow_consumer"]);
    }

    [Fact]
    public void Losses_interleaved_with_forwards_are_one_episode_logged_once_with_its_total()
    {
        // A message whose user_id the downstream user may not claim, every other message: each refused, the rest forwarded.
        for (var i = 0; i < 50; i++)
        {
            _drops.Lost("downstream_rejected", 1, "user_id 'alice' needs the 'impersonator' tag");
            _drops.Forwarded();
            _time.Advance(TimeSpan.FromSeconds(1));
            _drops.Forwarded();
        }

        var warning = Assert.Single(_logs.WithId(1011));
        Assert.Contains("downstream_rejected", warning.Message, StringComparison.Ordinal);
        Assert.Empty(_logs.WithId(1012));
        Assert.Equal(50, _drops.Snapshot!["downstream_rejected"]); // exact per message, whatever the episode

        // The last loss was 1 s ago: the episode ends settle-period after it, not before.
        _time.Advance(Settle - TimeSpan.FromSeconds(1) - Tick);
        Assert.Empty(_logs.WithId(1012));
        _time.Advance(Tick);

        var end = Assert.Single(_logs.WithId(1012));
        Assert.Contains("forwards again; 50 message(s) were lost", end.Message, StringComparison.Ordinal);
        Assert.Single(_logs.WithId(1011));
        Assert.Empty(_logs.WithId(1032));
    }

    [Fact]
    public void A_loss_within_the_settle_period_extends_the_episode_and_is_counted_in_it()
    {
        _drops.Lost("too_large", 1);
        _drops.Forwarded();
        _time.Advance(Settle - Tick);
        _drops.Lost("too_large", 1);
        _drops.Forwarded();
        _time.Advance(Settle - Tick);

        Assert.Single(_logs.WithId(1011));
        Assert.Empty(_logs.WithId(1012));

        _time.Advance(Tick);
        Assert.Contains("2 message(s)", Assert.Single(_logs.WithId(1012)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_link_that_only_loses_stays_in_one_episode_until_it_forwards()
    {
        _drops.Lost("too_large", 1);
        _time.Advance(TimeSpan.FromHours(1));
        _drops.Lost("too_large", 1);
        _time.Advance(TimeSpan.FromHours(1));

        Assert.Single(_logs.WithId(1011));
        Assert.Empty(_logs.WithId(1012));

        // Quiet for longer than the settle period since the last loss: the first forward ends the episode at once.
        _drops.Forwarded();
        Assert.Contains("2 message(s)", Assert.Single(_logs.WithId(1012)).Message, StringComparison.Ordinal);

        _drops.Lost("too_large", 1);
        Assert.Equal(2, _logs.WithId(1011).Count);
    }

    [Fact]
    public void A_loss_after_the_settle_period_opens_a_new_episode_after_the_end_of_the_last()
    {
        _drops.Lost("unreadable", 2);
        _drops.Forwarded();
        _time.Advance(Settle);
        _drops.Forwarded();
        _drops.Lost("unreadable", 1);

        Assert.Equal([1011, 1012, 1011], _logs.Entries.Select(e => e.EventId.Id));
        Assert.Contains("2 message(s)", _logs.WithId(1012)[0].Message, StringComparison.Ordinal);
        Assert.Equal(3, _drops.Snapshot!["unreadable"]);
    }

    [Fact]
    public void Stopping_the_link_ends_an_open_episode_at_once()
    {
        // Forwarded since the last loss: it does forward again, the settle period is only cut short.
        _drops.Lost("slow_consumer", 4);
        _drops.Forwarded();
        _drops.Stopped();
        Assert.Contains("4 message(s)", Assert.Single(_logs.WithId(1012)).Message, StringComparison.Ordinal);

        // Nothing left to settle: the timer the forward set does not log again.
        _time.Advance(Settle);
        Assert.Single(_logs.WithId(1012));

        // Stopped before it forwarded again: said so, with the count. The drops go on counting in a replacing link.
        _drops.Lost("slow_consumer", 3);
        _drops.Stopped();
        var stopped = Assert.Single(_logs.WithId(1032));
        Assert.Equal(LogLevel.Information, stopped.Level);
        Assert.Contains("3 message(s)", stopped.Message, StringComparison.Ordinal);
        Assert.Single(_logs.WithId(1012));
        Assert.Equal(2, _logs.WithId(1011).Count);

        _drops.Stopped();
        _drops.Lost("slow_consumer", 1);
        Assert.Equal(3, _logs.WithId(1011).Count);
        Assert.Equal(8, _drops.Snapshot!["slow_consumer"]);
    }

    [Fact]
    public void Hop_rule_drops_are_counted_but_open_no_loss_episode()
    {
        _drops.Intended("max_hops");
        _drops.Intended("max_hops");
        _drops.Intended("cycle");
        _drops.Forwarded();
        _time.Advance(Settle);

        Assert.Equal(new Dictionary<string, long> { ["cycle"] = 1, ["max_hops"] = 2 }, _drops.Snapshot);
        Assert.Empty(_logs.Entries);
    }
}
