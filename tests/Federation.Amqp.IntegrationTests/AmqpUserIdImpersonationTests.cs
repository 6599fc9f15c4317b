using Federation.Core.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// Reading RabbitMQ's refusal of a <c>user_id</c> the connection's user may not claim (rabbit_channel:check_user_id_header),
/// and refusing such a message before it is written once a refusal showed it.
/// </summary>
public sealed class AmqpUserIdImpersonationTests
{
    private const string Refusal = "PRECONDITION_FAILED - user_id property set to 'alice' but authenticated user was 'bob'";

    [Fact]
    public void The_connection_user_the_client_logged_in_as_is_taken_over_the_broker_text()
    {
        // The reply text is a short string: a long claimed name can cut it before the authenticated user's.
        var cut = "PRECONDITION_FAILED - user_id property set to '" + new string('a', 240);
        Assert.True(AmqpUserIdImpersonation.TryReadRefusal(new ShutdownEventArgs(ShutdownInitiator.Peer, 406, cut), "bob", out var user));
        Assert.Equal("bob", user);
    }

    [Theory]
    [InlineData(Refusal, "bob")]
    [InlineData("PRECONDITION_FAILED - user_id property set to 'x' but authenticated user was 'y'' but authenticated user was 'CN=client,O=test'", "CN=client,O=test")]
    public void Without_a_login_user_external_the_authenticated_user_is_read_from_the_refusal(string text, string expected)
    {
        Assert.True(AmqpUserIdImpersonation.TryReadRefusal(new ShutdownEventArgs(ShutdownInitiator.Peer, 406, text), null, out var user));
        Assert.Equal(expected, user);
    }

    [Theory]
    [InlineData(406, "PRECONDITION_FAILED - message size 8195 is larger than configured max size 4096")]
    [InlineData(406, "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'user_id property set to 'a'' in vhost '/'")]
    [InlineData(404, "NOT_FOUND - no exchange 'x' in vhost '/'")]
    public void Other_closes_say_nothing_about_impersonation(int code, string text)
    {
        Assert.False(AmqpUserIdImpersonation.TryReadRefusal(new ShutdownEventArgs(ShutdownInitiator.Peer, (ushort)code, text), "bob", out _));
        Assert.False(AmqpUserIdImpersonation.TryReadRefusal(null, "bob", out _));
    }

    [Fact]
    public void Only_a_user_id_naming_another_user_is_refused_once_learned_naming_its_place_in_the_unit()
    {
        AmqpUserIdImpersonation.Check("alice", null, "x", "k"); // nothing learned yet
        AmqpUserIdImpersonation.Check(null, "bob", "x", "k");
        AmqpUserIdImpersonation.Check("bob", "bob", "x", "k");
        var refused = Assert.Throws<MessageRefusedException>(() => AmqpUserIdImpersonation.Check("alice", "bob", "x", "k", index: 2));
        Assert.IsNotType<MessageTooLargeException>(refused);
        Assert.Equal(2, refused.Index);
        Assert.Contains("user_id 'alice'", refused.Message, StringComparison.Ordinal);
        Assert.Contains("'impersonator' tag", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("bob", refused.Message, StringComparison.Ordinal);
    }
}
