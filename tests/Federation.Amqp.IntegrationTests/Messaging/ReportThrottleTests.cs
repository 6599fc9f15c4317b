using Federation.Amqp.Messaging;
using Xunit;

namespace Federation.Amqp.IntegrationTests.Messaging;

public sealed class ReportThrottleTests
{
    [Fact]
    public void The_first_occurrence_is_reported_then_one_per_interval_with_the_count_held_back()
    {
        var clock = new ManualClock();
        var throttle = new ReportThrottle(TimeSpan.FromSeconds(10), clock);

        Assert.True(throttle.TryReport(out var heldBack));
        Assert.Equal(0, heldBack);
        for (var i = 0; i < 5; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            Assert.False(throttle.TryReport(out _));
        }

        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.True(throttle.TryReport(out heldBack));
        Assert.Equal(5, heldBack);
        Assert.False(throttle.TryReport(out _));
    }

    /// <summary>A clock that moves only when told, in ticks of 100 ns.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _now = 1_000_000;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _now;

        public void Advance(TimeSpan by) => _now += by.Ticks;
    }
}
