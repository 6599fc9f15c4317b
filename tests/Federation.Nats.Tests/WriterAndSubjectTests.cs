using System.Buffers;
using System.Text;
using Federation.Nats.Client;
using Federation.Nats.Protocol;

namespace Federation.Nats.Tests;

public class WriterAndSubjectTests
{
    private sealed class RecordingStream : MemoryStream
    {
        public int Writes { get; private set; }

        public int Flushes { get; private set; }

        public TaskCompletionSource Written { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Writes++;
            await base.WriteAsync(buffer, cancellationToken);
        }

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            Flushes++;
            Written.TrySetResult();
            return Task.CompletedTask;
        }
    }

    private static string Format(Action<ArrayBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [Fact]
    public void Each_command_has_its_exact_wire_form()
    {
        Assert.Equal("PUB a.b 3\r\nabc\r\n", Format(w => ProtocolWriter.WritePublish(w, "a.b", null, null, new ReadOnlySequence<byte>("abc"u8.ToArray()))));
        Assert.Equal("PUB a.b r.1 0\r\n\r\n", Format(w => ProtocolWriter.WritePublish(w, "a.b", "r.1", null, ReadOnlySequence<byte>.Empty)));
        Assert.Equal("HPUB foo 22 24\r\nNATS/1.0\r\nBar: Baz\r\n\r\nhi\r\n", Format(w => ProtocolWriter.WritePublish(w, "foo", null, new NatsHeaders().Add("Bar", "Baz"), new ReadOnlySequence<byte>("hi"u8.ToArray()))));
        Assert.Equal("SUB a.* 7\r\n", Format(w => ProtocolWriter.WriteSub(w, "a.*", null, 7)));
        Assert.Equal("SUB a.> q 8\r\n", Format(w => ProtocolWriter.WriteSub(w, "a.>", "q", 8)));
        Assert.Equal("UNSUB 7\r\n", Format(w => ProtocolWriter.WriteUnsub(w, 7, null)));
        Assert.Equal("UNSUB 7 10\r\n", Format(w => ProtocolWriter.WriteUnsub(w, 7, 10)));
        Assert.Equal("PING\r\n", Format(ProtocolWriter.WritePing));
        Assert.Equal("PONG\r\n", Format(ProtocolWriter.WritePong));
        Assert.Equal("CONNECT {}\r\n", Format(w => ProtocolWriter.WriteConnect(w, "{}"u8)));
    }

    [Fact]
    public void Publish_returns_the_bytes_it_wrote()
    {
        var buffer = new ArrayBufferWriter<byte>();
        var size = ProtocolWriter.WritePublish(buffer, "ü.x", "r", new NatsHeaders { StatusCode = 100 }.Add("K", "ü"), new ReadOnlySequence<byte>(new byte[300]));
        Assert.Equal(buffer.WrittenCount, size);
    }

    [Fact]
    public async Task Commands_queued_before_the_send_loop_runs_go_out_in_one_write_and_one_flush()
    {
        var writer = new CommandWriter(1024 * 1024);
        writer.Open();
        for (var i = 0; i < 100; i++)
        {
            writer.Publish("s", null, null, new ReadOnlySequence<byte>("x"u8.ToArray()));
        }

        writer.Subscribe("s", "q", 1, 5);
        writer.Ping(null);
        var stream = new RecordingStream();
        using var cts = new CancellationTokenSource();
        var loop = writer.RunSendLoopAsync(stream, cts.Token);
        await stream.Written.Task.WaitAsync(TimeSpan.FromSeconds(5));
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);

        Assert.Equal((1, 1), (stream.Writes, stream.Flushes));
        var text = Encoding.ASCII.GetString(stream.ToArray());
        Assert.Equal(100, text.Split("PUB s 1\r\nx\r\n").Length - 1);
        Assert.EndsWith("SUB s q 1\r\nUNSUB 1 5\r\nPING\r\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_closed_writer_fails_publishes_and_pings_fast_skips_subscriptions_and_reports_what_it_dropped()
    {
        var writer = new CommandWriter(1024);
        Assert.Throws<NatsNotConnectedException>(() => writer.Publish("s", null, null, ReadOnlySequence<byte>.Empty));
        Assert.Throws<NatsNotConnectedException>(() => writer.Ping(null));
        writer.Subscribe("s", null, 1, null); // no-op, replayed by the handshake

        writer.Open();
        writer.Publish("s", null, null, ReadOnlySequence<byte>.Empty);
        writer.Publish("s", null, null, ReadOnlySequence<byte>.Empty);
        var pong = new TaskCompletionSource();
        writer.Ping(pong);
        Assert.Equal(2, writer.Close(new NatsNotConnectedException()));
        await Assert.ThrowsAsync<NatsNotConnectedException>(() => pong.Task);
        Assert.False(writer.IsOpen);
    }

    [Fact]
    public void Pongs_complete_pings_in_order()
    {
        var writer = new CommandWriter(1024);
        writer.Open();
        var first = new TaskCompletionSource();
        var second = new TaskCompletionSource();
        writer.Ping(first);
        writer.Ping(null);
        writer.Ping(second);
        writer.OnPong();
        Assert.True(first.Task.IsCompleted);
        writer.OnPong();
        Assert.False(second.Task.IsCompleted);
        writer.OnPong();
        Assert.True(second.Task.IsCompleted);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("a.b.c")]
    [InlineData("_INBOX.abc.1")]
    [InlineData("$JS.API.x")]
    [InlineData("zürich.😀")]
    public void Valid_publish_subjects(string subject)
    {
        Assert.True(NatsSubjects.IsValidPublish(subject));
        Assert.True(NatsSubjects.IsValidSubscribe(subject));
    }

    [Theory]
    [InlineData("a.*")]
    [InlineData("*")]
    [InlineData(">")]
    [InlineData("a.*.>")]
    public void Wildcards_only_in_subscriptions(string subject)
    {
        Assert.True(NatsSubjects.IsValidSubscribe(subject));
        var error = Assert.Throws<ArgumentException>(() => NatsSubjects.ValidatePublish(subject));
        Assert.Contains(subject, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a..b")]
    [InlineData(".a")]
    [InlineData("a.")]
    [InlineData("a b")]
    [InlineData("a\tb")]
    [InlineData("a\r\nPUB x 1")]
    [InlineData("a.>.b")]
    public void Invalid_subjects_are_rejected_everywhere(string subject)
    {
        Assert.False(NatsSubjects.IsValidSubscribe(subject));
        Assert.False(NatsSubjects.IsValidPublish(subject));
        Assert.Throws<ArgumentException>(() => NatsSubjects.ValidateSubscribe(subject));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a b")]
    public void Invalid_queue_groups_are_rejected(string queueGroup) =>
        Assert.Throws<ArgumentException>(() => NatsSubjects.ValidateQueueGroup(queueGroup));

    [Fact]
    public async Task The_connection_validates_subjects_before_anything_reaches_the_wire()
    {
        await using var connection = new NatsConnection(new NatsClientOptions { Servers = ["nats://127.0.0.1:1"] });
        await Assert.ThrowsAsync<ArgumentException>(() => connection.PublishAsync("a.*", "x"u8.ToArray()).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => connection.PublishAsync("a", "x"u8.ToArray(), replyTo: "r b").AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => connection.SubscribeAsync("a b").AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => connection.SubscribeAsync("a", queueGroup: "q q").AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => connection.PublishAsync("a", "x"u8.ToArray(), new NatsHeaders().Add("bad key", "v")).AsTask());
        await Assert.ThrowsAnyAsync<ArgumentException>(() => connection.SubscribeAsync("a", maxMessages: 0).AsTask());
    }

    [Fact]
    public async Task Connecting_to_nothing_fails_with_a_nats_exception_and_can_be_retried()
    {
        await using var connection = new NatsConnection(new NatsClientOptions { Servers = ["nats://127.0.0.1:1"], ConnectTimeout = TimeSpan.FromSeconds(2) });
        await Assert.ThrowsAnyAsync<Exception>(() => connection.ConnectAsync().AsTask());
        Assert.Equal(NatsConnectionState.Initial, connection.State);
        await Assert.ThrowsAnyAsync<Exception>(() => connection.ConnectAsync().AsTask());
    }

    [Fact]
    public void Server_urls_parse_credentials_apart()
    {
        var address = ServerAddress.Parse("tls://u%3A1:p%40ss@example.org:4443");
        Assert.Equal(("example.org", 4443, true, "u:1", "p@ss"), (address.Host, address.Port, address.Tls, address.User, address.Password));
        Assert.Equal("example.org:4443", address.ToString());
        Assert.Equal(4222, ServerAddress.Parse("nats://h").Port);
        Assert.Equal("tok", ServerAddress.Parse("nats://tok@h:1").Token);
        Assert.Equal(("h", 5), (ServerAddress.Parse("h:5").Host, ServerAddress.Parse("h:5").Port));
    }

    [Fact]
    public async Task A_silent_server_times_out_the_handshake_and_a_cancelled_connect_can_be_retried()
    {
        var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start(); // accepts TCP (backlog) but never sends INFO
        try
        {
            var port = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port;
            await using var connection = new NatsConnection(new NatsClientOptions { Servers = [$"nats://127.0.0.1:{port}"], ConnectTimeout = TimeSpan.FromMilliseconds(300) });
            using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(50)))
            {
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connection.ConnectAsync(cts.Token).AsTask());
            }

            Assert.Equal(NatsConnectionState.Initial, connection.State);
            var timeout = await Assert.ThrowsAsync<NatsException>(() => connection.ConnectAsync().AsTask());
            Assert.Contains("Timed out connecting", timeout.Message, StringComparison.Ordinal);
            Assert.Equal(NatsConnectionState.Initial, connection.State);
        }
        finally
        {
            silent.Stop();
        }
    }
}
