using System.Globalization;
using Federation.Amqp.Messaging;
using Federation.Core.Collectives;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests.Messaging;

/// <summary>AMQP-specific behaviour of the subject transport beyond the shared contract: errors, credentials, start-up.</summary>
[Collection(ContractNodeCollection.Name)]
public sealed class AmqpSubjectTransportTests(RabbitMqNodeFixture fixture)
{
    private static string Unreachable() =>
        $"amqp://fed:s3cret@127.0.0.1:{FreePorts.Next().ToString(CultureInfo.InvariantCulture)}/?connection_timeout=2000";

    [Fact]
    public async Task An_unreachable_broker_fails_the_connect_without_the_password()
    {
        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await new AmqpSubjectTransport().ConnectAsync(new SubjectConnectionRequest(Unreachable(), "unreachable"), CancellationToken.None));

        Assert.DoesNotContain("s3cret", error.Message, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refused_credentials_are_an_authentication_failure_without_the_password()
    {
        var uri = fixture.Node.AmqpUri(user: "guest", password: "wrong-s3cret");

        var error = await Assert.ThrowsAsync<AuthenticationFailedException>(async () =>
            await new AmqpSubjectTransport().ConnectAsync(new SubjectConnectionRequest(uri, "bad-password"), CancellationToken.None));

        Assert.DoesNotContain("wrong-s3cret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_query_key_is_refused_naming_it()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(async () =>
            await new AmqpSubjectTransport().ConnectAsync(new SubjectConnectionRequest(fixture.Node.AmqpUri() + "&exchnage=x", "typo"), CancellationToken.None));

        Assert.Contains("'exchnage'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("guest:guest", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_broker_whose_amqp_server_is_down_at_start_starts_disconnected_and_reports_why_without_credentials()
    {
        await using var broker = new FederationBroker(
            new FederationBrokerOptions { ClusterName = "london", FederationUri = fixture.Node.AmqpUri(), CollectiveUri = Unreachable(), InstanceName = "london-down" },
            [new AmqpSubjectTransport()]);

        await broker.StartAsync(CancellationToken.None);

        Assert.False(broker.IsConnected);
        Assert.NotNull(broker.ConnectError);
        Assert.DoesNotContain("s3cret", broker.ConnectError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_published_message_carries_its_subject_reply_subject_and_repeated_headers_through_amq_topic()
    {
        var transport = new AmqpSubjectTransport();
        await using var subscriber = await transport.ConnectAsync(new SubjectConnectionRequest(fixture.Node.AmqpUri(), "sub"), CancellationToken.None);
        await using var publisher = await transport.ConnectAsync(new SubjectConnectionRequest(fixture.Node.AmqpUri(), "pub"), CancellationToken.None);
        var received = new TaskCompletionSource<SubjectMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        var prefix = $"amqp-specific.{Guid.NewGuid():N}";
        await subscriber.SubscribeAsync($"{prefix}.>", null, (m, _) => { received.TrySetResult(m with { Body = m.Body.ToArray() }); return ValueTask.CompletedTask; }, CancellationToken.None);

        await publisher.PublishAsync(new SubjectMessage($"{prefix}.x.y", "body"u8.ToArray(), [new("a", "1"), new("b", "2"), new("a", "3")], ReplyTo: $"{prefix}-reply.inbox"), CancellationToken.None);

        var message = await received.Task.WaitAsync(Poll.Deadline);
        Assert.Equal($"{prefix}.x.y", message.Subject);
        Assert.Equal($"{prefix}-reply.inbox", message.ReplyTo);
        KeyValuePair<string, string>[] grouped = [new("a", "1"), new("a", "3"), new("b", "2")]; // grouped by name, as on NATS
        Assert.Equal(grouped, message.Headers);
        Assert.Equal($"amqp://127.0.0.1:{fixture.Node.AmqpPort.ToString(CultureInfo.InvariantCulture)}", subscriber.ConnectedServer);
    }
}
