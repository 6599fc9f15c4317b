using Federation.Core.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// Reading RabbitMQ's <c>max_message_size</c> from the channel close that refuses a message (rabbit_channel:check_msg_size),
/// and refusing a body over a learned limit before it is written.
/// </summary>
public sealed class AmqpMessageSizeLimitTests
{
    [Theory]
    [InlineData("PRECONDITION_FAILED - message size 8195 is larger than configured max size 4096", 4096L)]
    [InlineData("PRECONDITION_FAILED - message size 536870913 is larger than max size 536870912", 536870912L)]
    public void The_limit_is_read_from_a_size_refusal(string text, long expected)
    {
        Assert.True(AmqpMessageSizeLimit.TryReadRefusal(new ShutdownEventArgs(ShutdownInitiator.Peer, 406, text), out var limit));
        Assert.Equal(expected, limit);
    }

    [Theory]
    [InlineData(406, "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'x' in vhost '/'")]
    [InlineData(406, "PRECONDITION_FAILED - unknown delivery tag 7")]
    [InlineData(404, "NOT_FOUND - no exchange 'message size 1 is larger than configured max size 1' in vhost '/'")]
    public void Other_closes_say_nothing_about_the_limit(int code, string text)
    {
        Assert.False(AmqpMessageSizeLimit.TryReadRefusal(new ShutdownEventArgs(ShutdownInitiator.Peer, (ushort)code, text), out _));
        Assert.False(AmqpMessageSizeLimit.TryReadRefusal(null, out _));
    }

    [Fact]
    public void A_body_over_a_learned_limit_is_refused_naming_its_place_in_the_unit()
    {
        AmqpMessageSizeLimit.Check(4096, 4096, "x", "k");
        AmqpMessageSizeLimit.Check(1_000_000, 0, "x", "k"); // no limit learned yet
        var refused = Assert.Throws<MessageTooLargeException>(() => AmqpMessageSizeLimit.Check(4097, 4096, "x", "k", index: 3));
        Assert.Equal(3, refused.Index);
        Assert.Contains("4097", refused.Message, StringComparison.Ordinal);
    }
}
