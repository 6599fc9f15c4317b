using Federation.Core.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Federation.Amqp.IntegrationTests;

/// <summary>The client's exceptions repeat the broker's text; a mapped exception keeps one as its inner only when it names no credential.</summary>
public sealed class AmqpErrorsTests
{
    private static readonly AmqpEndpoint Endpoint = AmqpEndpoint.Parse("amqp://AliceUser7:Pa55word-long@127.0.0.1:5672/");

    [Fact]
    public void A_close_reason_naming_the_user_is_scrubbed_and_the_client_exception_is_left_out()
    {
        var reason = new ShutdownEventArgs(ShutdownInitiator.Peer, 403, "ACCESS_REFUSED - access to exchange 'x' in vhost '/' refused for user 'AliceUser7'");

        var mapped = AmqpErrors.FromReason(reason, AmqpErrors.Operation.Other, new OperationInterruptedException(reason), Endpoint);

        Assert.Equal("403 ACCESS_REFUSED - access to exchange 'x' in vhost '/' refused for user '<redacted>'", mapped.Message);
        Assert.Null(mapped.InnerException);
    }

    [Fact]
    public void A_client_exception_that_names_no_credential_stays_as_the_inner_exception()
    {
        var reason = new ShutdownEventArgs(ShutdownInitiator.Peer, 404, "NOT_FOUND - no exchange 'x' in vhost '/'");
        var client = new OperationInterruptedException(reason);

        var mapped = AmqpErrors.FromReason(reason, AmqpErrors.Operation.Other, client, Endpoint);

        Assert.IsType<ResourceNotFoundException>(mapped);
        Assert.Same(client, mapped.InnerException);
    }

    [Theory]
    [InlineData("refused for user 'AliceUser7'")]
    [InlineData("wrong password Pa55word-long")]
    [InlineData("while connecting to amqp://someone:other@host/")]
    public void An_exception_naming_a_credential_anywhere_in_its_chain_is_not_kept(string text)
    {
        var chain = new InvalidOperationException("outer", new System.IO.IOException(text));

        var benign = new InvalidOperationException("outer", new System.IO.IOException("reset by peer"));

        Assert.Null(AmqpErrors.SafeInner(chain, "AliceUser7", "Pa55word-long"));
        Assert.Same(benign, AmqpErrors.SafeInner(benign, "AliceUser7", "Pa55word-long"));
    }
}
