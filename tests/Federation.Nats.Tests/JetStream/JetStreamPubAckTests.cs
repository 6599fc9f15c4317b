using System.Buffers;
using System.Text;
using Federation.Core.Transport;
using Federation.Nats.JetStream;
using Federation.Testing.Brokers;
using NATS.Client.Core;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// The confirmed JetStream publish's own reply path: the PubAck reader (no server needed), and the one wildcard inbox that
/// settles each publish, against a core nats-server whose responders play the stream.
/// </summary>
public sealed class JetStreamPubAckTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private NatsServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await NatsServerProcess.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("""{"stream":"S","seq":7}""", "Stored", null)]
    [InlineData("""{"stream":"S","seq":7,"duplicate":true}""", "Stored", null)]
    [InlineData("""{"stream":"S","domain":"hub","seq":7}""", "Stored", null)]
    [InlineData("""{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}""", "Refused", "maximum messages exceeded (err_code 10077)", 10077L)]
    [InlineData("""{"type":"io.nats.jetstream.api.v1.pub_ack","error":{"description":"x"}}""", "Refused", "x")]
    [InlineData("""{"error":{"code":400}}""", "Refused", "no description")]
    [InlineData("""{"seq":7}""", "Unreadable", "a JSON reply without a stream instead of a PubAck")]
    [InlineData("""[1]""", "Unreadable", "a reply that is not a JSON object instead of a PubAck")]
    [InlineData("""not json""", "Unreadable", "a reply that is not JSON instead of a PubAck")]
    [InlineData("", "Unreadable", "an empty reply instead of a PubAck")]
    [InlineData("""{"error":{"description":"\ud800"}}""", "Unreadable", "a PubAck whose text cannot be decoded")]
    public void Replies_are_read_as_stored_refused_or_unreadable(string payload, string kind, string? error, long? errorCode = null)
    {
        var reply = JetStreamPubAck.Read(null, new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(payload)));
        Assert.Equal((Enum.Parse<JetStreamPubAckKind>(kind), error, errorCode), (reply.Kind, reply.Error, reply.ErrorCode));
    }

    [Theory]
    [InlineData("""{"stream":"S","seq":7}""", false, 7UL)]
    [InlineData("""{"stream":"S","seq":7,"duplicate":true}""", true, 7UL)]
    [InlineData("""{"duplicate":true,"stream":"S","domain":"hub","seq":18446744073709551615}""", true, ulong.MaxValue)]
    [InlineData("""{"stream":"S","seq":7,"duplicate":false}""", false, 7UL)]
    [InlineData("""{"stream":"S","duplicate":"yes"}""", false, null)]
    public void A_pub_ack_says_whether_the_stream_dropped_the_message_as_a_duplicate(string payload, bool duplicate, ulong? sequence) =>
        Assert.Equal(new JetStreamPubAck(JetStreamPubAckKind.Stored, Duplicate: duplicate, Sequence: sequence), JetStreamPubAck.Read(null, new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(payload))));

    [Theory]
    [InlineData("NATS/1.0 503\r\n\r\n", "NoResponders", null)]
    [InlineData("NATS/1.0 408 Request Timeout\r\n\r\n", "Unreadable", "status 408 instead of a PubAck")]
    public void Status_replies_are_read_from_the_header_block(string block, string kind, string? error) =>
        Assert.Equal(new JetStreamPubAck(Enum.Parse<JetStreamPubAckKind>(kind), error), JetStreamPubAck.Read(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(block)), ReadOnlySequence<byte>.Empty));

    [Fact]
    public void A_header_block_without_a_status_does_not_hide_the_pub_ack() =>
        Assert.Equal(
            new JetStreamPubAck(JetStreamPubAckKind.Stored, Sequence: 1),
            JetStreamPubAck.Read(new ReadOnlySequence<byte>("NATS/1.0\r\nA: b\r\n\r\n"u8.ToArray()), new ReadOnlySequence<byte>("""{"stream":"S","seq":1}"""u8.ToArray())));

    [Fact]
    public async Task Each_publish_is_settled_by_the_reply_to_its_own_subject()
    {
        await using var client = new NatsConnection(new NatsOpts { Url = _server.Url });
        await using var responder = await client.SubscribeCoreAsync<string>("stream.>");
        var replies = Task.Run(async () =>
        {
            // Answer out of order: the second publish first, as a stream that confirms in parallel might.
            var first = await responder.Msgs.ReadAsync();
            var second = await responder.Msgs.ReadAsync();
            await second.ReplyAsync("""{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}""");
            await first.ReplyAsync("""{"stream":"S","seq":1}""");
        });
        var inbox = await OpenInboxAsync(client, TimeSpan.FromMinutes(1));
        await using var _ = new AsyncCloser(inbox);

        var stored = inbox.Register("stream.a", producerMessageId: null, out var storedReply);
        var refused = inbox.Register("stream.b", producerMessageId: null, out var refusedReply);
        Assert.NotEqual(storedReply, refusedReply);
        await client.PublishAsync("stream.a", "a", replyTo: storedReply);
        await client.PublishAsync("stream.b", "b", replyTo: refusedReply);
        await replies.WaitAsync(Deadline);

        await stored.Task.WaitAsync(Deadline);
        var nacked = await Assert.ThrowsAsync<PublishNackedException>(() => refused.Task.WaitAsync(Deadline));
        Assert.Equal("The JetStream stream on nats://127.0.0.1:1 refused a message on 'stream.b': maximum messages exceeded (err_code 10077).", nacked.Message);
        Assert.Equal(0, inbox.PendingCount);
    }

    [Fact]
    public async Task A_message_over_the_stream_max_msg_size_is_refused_for_good()
    {
        await using var client = new NatsConnection(new NatsOpts { Url = _server.Url });
        await using var responder = await client.SubscribeCoreAsync<string>("stream.big");
        var reply = Task.Run(async () =>
        {
            var message = await responder.Msgs.ReadAsync();
            await message.ReplyAsync("""{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"}}""");
        });
        var inbox = await OpenInboxAsync(client, TimeSpan.FromMinutes(1));
        await using var _ = new AsyncCloser(inbox);

        var pending = inbox.Register("stream.big", producerMessageId: null, out var replyTo);
        await client.PublishAsync("stream.big", "b", replyTo: replyTo);
        await reply.WaitAsync(Deadline);

        // Not a nack to requeue: redelivered, it would be refused again, first, forever.
        var refused = await Assert.ThrowsAsync<MessageRefusedException>(() => pending.Task.WaitAsync(Deadline));
        Assert.Contains("message size exceeds maximum allowed (err_code 10054)", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_subject_no_stream_captures_is_refused_naming_it()
    {
        await using var client = new NatsConnection(new NatsOpts { Url = _server.Url });
        var inbox = await OpenInboxAsync(client, TimeSpan.FromMinutes(1));
        await using var _ = new AsyncCloser(inbox);

        var pending = inbox.Register("nobody.here", producerMessageId: null, out var replyTo);
        await client.PublishAsync("nobody.here", "x", replyTo: replyTo);

        var nacked = await Assert.ThrowsAsync<PublishNackedException>(() => pending.Task.WaitAsync(Deadline));
        Assert.Equal("No JetStream stream on nats://127.0.0.1:1 captures the subject 'nobody.here'.", nacked.Message);
    }

    [Fact]
    public async Task A_publish_without_a_reply_within_the_timeout_has_an_unknown_outcome()
    {
        await using var client = new NatsConnection(new NatsOpts { Url = _server.Url });
        await using var silent = await client.SubscribeCoreAsync<string>("silent");
        var inbox = await OpenInboxAsync(client, TimeSpan.FromMilliseconds(200));
        await using var _ = new AsyncCloser(inbox);

        var pending = inbox.Register("silent", producerMessageId: null, out var replyTo);
        await client.PublishAsync("silent", "x", replyTo: replyTo);
        await silent.Msgs.ReadAsync().AsTask().WaitAsync(Deadline);

        var lost = await Assert.ThrowsAsync<ConnectionLostException>(() => pending.Task.WaitAsync(Deadline));
        Assert.Equal("Publishing to JetStream on nats://127.0.0.1:1 failed (the outcome is unknown): no PubAck for a message on 'silent' within 0.2 s.", lost.Message);
        Assert.Equal(0, inbox.PendingCount);
    }

    [Fact]
    public async Task Closing_fails_what_is_pending_and_refuses_new_publishes()
    {
        await using var client = new NatsConnection(new NatsOpts { Url = _server.Url });
        var inbox = await OpenInboxAsync(client, TimeSpan.FromMinutes(1));
        var pending = inbox.Register("never.written", producerMessageId: null, out _);

        await inbox.CloseAsync();

        var lost = await Assert.ThrowsAsync<ConnectionLostException>(() => pending.Task.WaitAsync(Deadline));
        Assert.Contains("closed before the stream confirmed a message on 'never.written'", lost.Message, StringComparison.Ordinal);
        Assert.Throws<ConnectionLostException>(() => inbox.Register("later", producerMessageId: null, out _));
    }

    /// <summary>An inbox whose messages name the URI <c>nats://127.0.0.1:1</c>.</summary>
    private static ValueTask<JetStreamPubAckInbox> OpenInboxAsync(NatsConnection client, TimeSpan timeout) =>
        JetStreamPubAckInbox.OpenAsync(client, "nats://127.0.0.1:1", timeout, TimeProvider.System, onNoStream: null, dropped: null, CancellationToken.None);

    private sealed class AsyncCloser(JetStreamPubAckInbox inbox) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => inbox.CloseAsync();
    }
}
