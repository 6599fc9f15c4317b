using Federation.Nats.JetStream;

namespace Federation.Nats.Tests.JetStream;

/// <summary>Where a durable consumer deleted by hand is created again: after what the link settled, never past a message it has not (no server needed).</summary>
public sealed class JetStreamAckFloorTests
{
    [Fact]
    public void The_floor_is_the_servers_until_messages_are_settled_and_stops_below_one_in_flight()
    {
        var floor = new JetStreamAckFloor(serverAckFloor: 100, serverDelivered: 100);
        Assert.Equal(100UL, floor.Floor);

        floor.Delivered(101);
        floor.Delivered(102);
        floor.Delivered(103);
        Assert.Equal(100UL, floor.Floor);

        floor.Settled(101);
        floor.Settled(103);
        Assert.Equal(101UL, floor.Floor); // 102 is not confirmed downstream yet

        floor.Settled(102);
        Assert.Equal(103UL, floor.Floor);
    }

    [Fact]
    public void A_message_nakd_or_left_to_the_ack_wait_holds_the_floor_until_a_redelivery_of_it_is_settled()
    {
        var floor = new JetStreamAckFloor(0, 0);
        for (var sequence = 1UL; sequence <= 5; sequence++)
        {
            floor.Delivered(sequence);
        }

        floor.Settled(1);
        floor.Settled(2);
        floor.Settled(4);
        floor.Settled(5); // 3 was nak'ed: it comes again
        Assert.Equal(2UL, floor.Floor);

        floor.Delivered(3);
        floor.Settled(3);
        Assert.Equal(5UL, floor.Floor);
    }

    [Fact]
    public void What_the_server_had_delivered_unacknowledged_before_this_process_looked_holds_the_floor_at_the_servers()
    {
        // A crashed process left 51..60 delivered, unacknowledged: they come back after the ack wait.
        var floor = new JetStreamAckFloor(serverAckFloor: 50, serverDelivered: 60);
        floor.Delivered(61);
        floor.Settled(61);
        Assert.Equal(50UL, floor.Floor);

        floor.Attached(serverAckFloor: 61); // a later attach: the server has them all acknowledged
        Assert.Equal(61UL, floor.Floor);
    }

    [Fact]
    public void Floors_are_kept_per_stream_incarnation_and_forgotten_when_the_link_deletes_the_queue()
    {
        var floors = new JetStreamAckFloors();
        var created = DateTimeOffset.UnixEpoch.AddDays(1);
        var floor = floors.Attach("s", "c", created, 7, 7);
        Assert.Same(floor, floors.Find("s", "c", created));
        Assert.Null(floors.Find("s", "c", created.AddTicks(1))); // the stream deleted and created again numbers from 1
        Assert.Same(floor, floors.Attach("s", "c", created, 9, 9));
        Assert.Equal(9UL, floor.Floor);

        floors.Forget("c", "s");
        Assert.Null(floors.Find("s", "c", created));
    }
}
