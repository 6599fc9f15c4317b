namespace Federation.Amqp.IntegrationTests;

/// <summary>The publisher's unconfirmed publishes, settled by single and multiple confirms in any order (no broker needed).</summary>
public sealed class ConfirmWindowTests
{
    [Fact]
    public void A_multiple_confirm_settles_everything_up_to_its_tag_in_order()
    {
        var window = Filled(1, 5);
        var settled = new List<string>();
        window.TakeUpTo(3, settled);
        Assert.Equal(["p1", "p2", "p3"], settled);
        Assert.Equal(2, window.Count);
    }

    [Fact]
    public void A_single_confirm_out_of_order_leaves_the_others_waiting()
    {
        var window = Filled(1, 4);
        Assert.True(window.TryTake(3, out var third));
        Assert.Equal("p3", third);
        Assert.False(window.TryTake(3, out _));

        // A later multiple confirm skips the hole that 3 left.
        var settled = new List<string>();
        window.TakeUpTo(4, settled);
        Assert.Equal(["p1", "p2", "p4"], settled);
        Assert.Equal(0, window.Count);
    }

    [Fact]
    public void Unknown_and_already_confirmed_tags_settle_nothing()
    {
        var window = Filled(10, 12);
        var settled = new List<string>();
        window.TakeUpTo(9, settled);
        Assert.Empty(settled);
        Assert.False(window.TryTake(13, out _));
        window.TakeUpTo(12, settled);
        window.TakeUpTo(12, settled);
        Assert.Equal(["p10", "p11", "p12"], settled);
    }

    [Fact]
    public void The_ring_grows_and_wraps_while_the_window_slides()
    {
        var window = new ConfirmWindow<string>();
        var settled = new List<string>();
        for (ulong sequence = 1; sequence <= 1_000; sequence++)
        {
            window.Add(sequence, $"p{sequence}");
            if (sequence % 7 == 0)
            {
                Assert.True(window.TryTake(sequence - 3, out var single));
                settled.Add(single!);
            }

            if (sequence % 100 == 0)
            {
                window.TakeUpTo(sequence - 50, settled);
            }
        }

        window.TakeAll(settled);
        Assert.Equal(1_000, settled.Count);
        Assert.Equal(1_000, settled.Distinct().Count());
        Assert.Equal(0, window.Count);
    }

    [Fact]
    public void Sequence_numbers_must_increase_until_the_window_is_empty()
    {
        var window = Filled(1, 2);
        Assert.Contains("last added was 2", Assert.Throws<ArgumentOutOfRangeException>(() => window.Add(2, "again")).Message, StringComparison.Ordinal);

        // A new channel numbers its publishes from 1 again, once the old channel's are all settled.
        window.TakeAll([]);
        window.Add(1, "new channel");
        Assert.Equal(1, window.Count);
    }

    [Fact]
    public void A_withdrawn_publish_gives_its_sequence_number_back_to_the_next_one()
    {
        var window = Filled(1, 3);
        Assert.True(window.Withdraw(3));
        Assert.Equal(2, window.Count);
        Assert.False(window.Withdraw(3));

        // The client numbers the next publish 3 again: the window takes it and settles it in order.
        window.Add(3, "p3 again");
        var settled = new List<string>();
        window.TakeUpTo(3, settled);
        Assert.Equal(["p1", "p2", "p3 again"], settled);
    }

    [Fact]
    public void Only_the_last_added_publish_can_be_withdrawn()
    {
        var window = Filled(1, 3);
        Assert.False(window.Withdraw(2));
        window.TakeAll([]);
        Assert.False(window.Withdraw(3));
        Assert.Equal(0, window.Count);
    }

    private static ConfirmWindow<string> Filled(ulong first, ulong last)
    {
        var window = new ConfirmWindow<string>();
        for (var sequence = first; sequence <= last; sequence++)
        {
            window.Add(sequence, $"p{sequence}");
        }

        return window;
    }
}
