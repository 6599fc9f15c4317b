using Federation.Core.Links;
using Federation.Core.Model;
using Xunit;

namespace Federation.Core.Tests.Links;

/// <summary>The reconnect schedule alone: no links, no clock; the jitter source is pinned.</summary>
public class ReconnectBackoffTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    private static TimeSpan Seconds(double seconds) => TimeSpan.FromSeconds(seconds);

    private static List<TimeSpan> Take(ReconnectBackoff backoff, int count) => [.. Enumerable.Range(0, count).Select(_ => backoff.NextDelay())];

    [Fact]
    public void Exponential_retries_at_once_then_doubles_from_the_delay_up_to_the_cap()
    {
        // A source pinned at the top of its range waits the whole ceiling.
        var backoff = new ReconnectBackoff(ReconnectBackoffMode.Exponential, Seconds(5), Seconds(60), () => 1.0);

        Assert.Equal([Seconds(0), Seconds(5), Seconds(10), Seconds(20), Seconds(40), Seconds(60), Seconds(60), Seconds(60)], Take(backoff, 8));
    }

    [Fact]
    public void Jitter_stays_in_the_upper_half_of_each_ceiling()
    {
        var low = new ReconnectBackoff(ReconnectBackoffMode.Exponential, Seconds(5), Seconds(60), () => 0.0);
        var middle = new ReconnectBackoff(ReconnectBackoffMode.Exponential, Seconds(5), Seconds(60), () => 0.5);

        Assert.Equal([Seconds(0), Seconds(2.5), Seconds(5), Seconds(10), Seconds(20), Seconds(30), Seconds(30)], Take(low, 7));
        Assert.Equal([Seconds(0), Seconds(3.75), Seconds(7.5), Seconds(15), Seconds(30), Seconds(45)], Take(middle, 6));
    }

    [Fact]
    public void Random_jitter_is_always_within_its_bounds_and_spreads_attempts()
    {
        var random = new Random(42);
        var delays = new List<TimeSpan>();
        for (var link = 0; link < 200; link++)
        {
            var backoff = new ReconnectBackoff(ReconnectBackoffMode.Exponential, Seconds(1), Seconds(8), random.NextDouble);
            var schedule = Take(backoff, 6);
            for (var failure = 0; failure < schedule.Count; failure++)
            {
                var ceiling = backoff.Ceiling(failure);
                Assert.InRange(schedule[failure], ceiling / 2, ceiling);
            }

            delays.Add(schedule[3]);
        }

        // 200 links that failed together do not retry in step.
        Assert.True(delays.Distinct().Count() > 100, $"{delays.Distinct().Count()} distinct delays");
    }

    [Fact]
    public void Reset_after_a_healthy_run_starts_over_with_the_immediate_retry()
    {
        var backoff = new ReconnectBackoff(ReconnectBackoffMode.Exponential, Seconds(2), Seconds(30), () => 1.0);
        _ = Take(backoff, 5);
        Assert.Equal(5, backoff.FailuresInARow);

        backoff.Reset();

        Assert.Equal(0, backoff.FailuresInARow);
        Assert.Equal([Seconds(0), Seconds(2), Seconds(4)], Take(backoff, 3));
    }

    [Fact]
    public void Fixed_is_the_plugins_rule_without_jitter()
    {
        var backoff = new ReconnectBackoff(ReconnectBackoffMode.Fixed, Seconds(5), Seconds(60), () => throw new InvalidOperationException("fixed mode draws no jitter"));

        Assert.Equal([Seconds(0), Seconds(5), Seconds(5), Seconds(5), Seconds(5)], Take(backoff, 5));
    }

    [Fact]
    public void A_cap_below_the_delay_is_raised_to_it()
    {
        var backoff = new ReconnectBackoff(ReconnectBackoffMode.Exponential, Seconds(10), Seconds(3), () => 1.0);

        Assert.Equal(Seconds(10), backoff.Cap);
        Assert.Equal([Seconds(0), Seconds(10), Seconds(10)], Take(backoff, 3));
    }

    [Fact]
    public void Long_failure_runs_stay_at_the_cap_without_overflow()
    {
        var backoff = new ReconnectBackoff(ReconnectBackoffMode.Exponential, Second, TimeSpan.FromMilliseconds(int.MaxValue), () => 1.0);

        Assert.Equal(TimeSpan.FromMilliseconds(int.MaxValue), backoff.Ceiling(int.MaxValue));
        Assert.Equal(TimeSpan.FromMilliseconds(int.MaxValue), backoff.Ceiling(100));
        Assert.Equal(Seconds(1024), backoff.Ceiling(11));
    }

    [Fact]
    public void The_resolved_upstream_defaults_are_exponential_from_5_s_to_60_s()
    {
        var upstream = ResolvedUpstream.FromDefinition("origin", new UpstreamDefinition { Uris = ["amqp://a"] });
        var backoff = ReconnectBackoff.For(upstream, () => 1.0);

        Assert.Equal(ReconnectBackoffMode.Exponential, backoff.Mode);
        Assert.Equal(Seconds(5), backoff.Delay);
        Assert.Equal(Seconds(60), backoff.Cap);
    }

    [Fact]
    public void The_default_cap_is_raised_to_a_longer_delay()
    {
        var upstream = ResolvedUpstream.FromDefinition("origin", new UpstreamDefinition { Uris = ["amqp://a"], ReconnectDelaySeconds = 120 });

        Assert.Equal(Seconds(120), upstream.ReconnectDelayMax);
    }
}
