using Federation.Core.Links;

namespace Federation.Core.Tests.Links;

/// <summary>
/// The link acks upstream with <c>multiple=true</c> only up to the highest delivery below which every delivery settled
/// (confirmed downstream, dropped, or already nacked): never past one that is still waiting for its confirm.
/// </summary>
public sealed class ContiguousAckTrackerTests
{
    [Fact]
    public void In_order_settlements_ack_each_delivery()
    {
        var tracker = new ContiguousAckTracker();
        tracker.Track(1);
        tracker.Track(2);

        Assert.True(tracker.Settle(1));
        Assert.Equal((true, 1UL, 1), Take(tracker));
        Assert.True(tracker.Settle(2));
        Assert.Equal((true, 2UL, 1), Take(tracker));
        Assert.Equal((false, 2UL, 0), Take(tracker));
        Assert.Equal(0, tracker.Unacknowledged);
    }

    [Fact]
    public void A_nacked_delivery_is_never_the_tag_acknowledged_but_a_later_ack_covers_it()
    {
        // RabbitMQ closes the channel on an ack of a tag it no longer holds (406 unknown delivery tag), and a nacked or
        // rejected delivery is no longer held: the link that rejected a message it could not forward and went on died.
        var tracker = new ContiguousAckTracker();
        for (ulong tag = 1; tag <= 4; tag++)
        {
            tracker.Track(tag);
        }

        Assert.True(tracker.Settle(1));
        Assert.Equal((true, 1UL, 1), Take(tracker));

        Assert.False(tracker.Settle(2, acknowledge: false));
        Assert.False(tracker.HasAck);
        Assert.Equal((false, 1UL, 1), Take(tracker));

        Assert.True(tracker.Settle(3));
        Assert.Equal((true, 3UL, 2), Take(tracker));

        Assert.False(tracker.Settle(4, acknowledge: false));
        Assert.Equal((false, 3UL, 1), Take(tracker));
        Assert.Equal(0, tracker.Unsettled);
    }

    [Fact]
    public void Out_of_order_confirms_ack_only_the_contiguous_prefix()
    {
        var tracker = new ContiguousAckTracker();
        for (ulong tag = 1; tag <= 5; tag++)
        {
            tracker.Track(tag);
        }

        // 3 and 5 are confirmed first: nothing may be acked, since 1 and 2 still wait for their confirms.
        Assert.False(tracker.Settle(3));
        Assert.False(tracker.Settle(5));
        Assert.False(tracker.HasAck);
        Assert.Equal((false, 0UL, 0), Take(tracker));

        Assert.True(tracker.Settle(1));
        Assert.Equal((true, 1UL, 1), Take(tracker));

        // 2 completes the prefix up to 3: one ack with multiple covers 2 and 3; 4 still holds 5 back.
        Assert.True(tracker.Settle(2));
        Assert.Equal((true, 3UL, 2), Take(tracker));
        Assert.Equal(2, tracker.Unacknowledged);
        Assert.Equal(1, tracker.Unsettled);

        Assert.True(tracker.Settle(4));
        Assert.Equal((true, 5UL, 2), Take(tracker));
        Assert.Equal(0, tracker.Unacknowledged);
    }

    [Fact]
    public void Settlements_between_two_takes_are_covered_by_one_ack()
    {
        var tracker = new ContiguousAckTracker();
        for (ulong tag = 1; tag <= 100; tag++)
        {
            tracker.Track(tag);
            tracker.Settle(tag);
        }

        Assert.Equal((true, 100UL, 100), Take(tracker));
    }

    [Fact]
    public void A_delivery_that_never_settles_holds_every_later_ack_back()
    {
        // Its forward failed: it must stay unacknowledged so that the upstream redelivers it.
        var tracker = new ContiguousAckTracker();
        tracker.Track(1);
        tracker.Track(2);
        tracker.Track(3);
        tracker.Settle(1);
        tracker.Settle(3);

        Assert.Equal((true, 1UL, 1), Take(tracker));
        Assert.Equal((false, 1UL, 0), Take(tracker));
        Assert.Equal(2, tracker.Unacknowledged);
    }

    [Fact]
    public void Tags_with_gaps_are_tracked()
    {
        // Deliveries the link does not track (it stopped accepting) leave gaps; the ack still stops at the last settled one.
        var tracker = new ContiguousAckTracker();
        tracker.Track(2);
        tracker.Track(7);
        tracker.Track(9);
        tracker.Settle(9);
        tracker.Settle(2);
        Assert.Equal((true, 2UL, 1), Take(tracker));
        tracker.Settle(7);
        Assert.Equal((true, 9UL, 2), Take(tracker));
    }

    [Fact]
    public void Misuse_is_rejected_with_the_offending_tag()
    {
        var tracker = new ContiguousAckTracker();
        tracker.Track(5);
        var decreasing = Assert.Throws<ArgumentOutOfRangeException>(() => tracker.Track(5));
        Assert.Contains("last tracked was 5", decreasing.Message, StringComparison.Ordinal);
        Assert.Contains("6", Assert.Throws<InvalidOperationException>(() => tracker.Settle(6)).Message, StringComparison.Ordinal);
        tracker.Settle(5);
        Assert.Contains("5", Assert.Throws<InvalidOperationException>(() => tracker.Settle(5)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Random_settlement_order_never_acks_past_an_unsettled_delivery(int seed)
    {
        // More deliveries than the initial ring holds, with the ring wrapping around as the window slides.
        var random = new Random(seed);
        var tracker = new ContiguousAckTracker();
        var unsettled = new List<ulong>();
        var acked = 0UL;
        var covered = 0;
        ulong next = 1;
        while (next <= 2_000 || unsettled.Count > 0)
        {
            if (next <= 2_000 && (unsettled.Count == 0 || random.Next(3) > 0) && unsettled.Count < 300)
            {
                tracker.Track(next);
                unsettled.Add(next++);
            }
            else
            {
                var index = random.Next(unsettled.Count);
                tracker.Settle(unsettled[index]);
                unsettled.RemoveAt(index);
            }

            if (random.Next(4) == 0 && tracker.TryTakeAck(out var upTo, out var deliveries))
            {
                Assert.True(upTo > acked);
                Assert.All(unsettled, tag => Assert.True(tag > upTo, $"acked up to {upTo} while {tag} was unsettled"));
                acked = upTo;
                covered += deliveries;
            }
        }

        if (tracker.TryTakeAck(out var last, out var rest))
        {
            acked = last;
            covered += rest;
        }

        Assert.Equal(2_000UL, acked);
        Assert.Equal(2_000, covered);
    }

    private static (bool Taken, ulong UpTo, int Deliveries) Take(ContiguousAckTracker tracker)
    {
        var taken = tracker.TryTakeAck(out var upTo, out var deliveries);
        return (taken, upTo, deliveries);
    }
}
