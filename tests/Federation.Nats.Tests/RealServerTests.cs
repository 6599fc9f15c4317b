using System.Text;
using Federation.Nats.Client;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests;

public sealed class RealServerTests(NatsServerFixture fixture) : IClassFixture<NatsServerFixture>, IAsyncLifetime
{
    private readonly List<NatsConnection> _connections = [];
    private readonly string _prefix = "t" + Guid.NewGuid().ToString("N")[..8];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }
    }

    private static CancellationToken Timeout => new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token;

    private async Task<NatsConnection> ConnectAsync(string url, Func<NatsClientOptions, NatsClientOptions>? configure = null)
    {
        var options = new NatsClientOptions
        {
            Servers = [url],
            ReconnectWaitMin = TimeSpan.FromMilliseconds(50),
            ReconnectWaitMax = TimeSpan.FromMilliseconds(200),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        };
        var connection = new NatsConnection(configure is null ? options : configure(options));
        _connections.Add(connection);
        await connection.ConnectAsync();
        return connection;
    }

    private Task<NatsConnection> ConnectAsync(Func<NatsClientOptions, NatsClientOptions>? configure = null) => ConnectAsync(fixture.Server.Url, configure);

    [Fact]
    public async Task Publish_and_subscribe_round_trip_with_headers()
    {
        var subscriber = await ConnectAsync();
        var publisher = await ConnectAsync();
        Assert.True(subscriber.ServerInfo!.Headers);
        await using var subscription = await subscriber.SubscribeAsync($"{_prefix}.orders.*");
        await subscriber.FlushAsync();

        var headers = new NatsHeaders().Add("Trace-Id", "abc").Add("trace-id", "def").Add("Unicode", "zürich 😀");
        await publisher.PublishAsync($"{_prefix}.orders.new", "payload"u8.ToArray(), headers, replyTo: $"{_prefix}.reply");
        await publisher.PublishAsync($"{_prefix}.orders.plain", "plain"u8.ToArray());

        var first = await subscription.ReadAsync(Timeout);
        Assert.Equal($"{_prefix}.orders.new", first.Subject);
        Assert.Equal($"{_prefix}.reply", first.ReplyTo);
        Assert.Equal("payload", Encoding.UTF8.GetString(first.Data.Span));
        Assert.True(first.Headers!.TryGetValues("TRACE-ID", out var traces));
        Assert.Equal(["abc", "def"], traces);
        Assert.Equal("zürich 😀", first.Headers["unicode"]);
        var second = await subscription.ReadAsync(Timeout);
        Assert.Null(second.Headers);
        Assert.Equal("plain", Encoding.UTF8.GetString(second.Data.Span));
    }

    [Fact]
    public async Task Queue_group_members_share_the_messages_and_plain_subscribers_get_all()
    {
        var a = await ConnectAsync();
        var b = await ConnectAsync();
        var publisher = await ConnectAsync();
        long countA = 0, countB = 0, countAll = 0;
        await a.SubscribeAsync($"{_prefix}.work", (_, _) => { Interlocked.Increment(ref countA); return ValueTask.CompletedTask; }, queueGroup: "workers");
        await b.SubscribeAsync($"{_prefix}.work", (_, _) => { Interlocked.Increment(ref countB); return ValueTask.CompletedTask; }, queueGroup: "workers");
        await b.SubscribeAsync($"{_prefix}.work", (_, _) => { Interlocked.Increment(ref countAll); return ValueTask.CompletedTask; });
        await a.FlushAsync();
        await b.FlushAsync();

        const int messages = 400;
        for (var i = 0; i < messages; i++)
        {
            await publisher.PublishAsync($"{_prefix}.work", Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        await publisher.FlushAsync();
        await Eventually.TrueAsync(() => Interlocked.Read(ref countA) + Interlocked.Read(ref countB) == messages && Interlocked.Read(ref countAll) == messages, "all messages delivered");
        Assert.True(countA > 0 && countB > 0, $"both members should get work: {countA} / {countB}");
        await a.FlushAsync();
        Assert.Equal(messages, Interlocked.Read(ref countA) + Interlocked.Read(ref countB)); // each exactly once
    }

    [Fact]
    public async Task Request_reply_and_no_responders()
    {
        var responder = await ConnectAsync();
        var requester = await ConnectAsync();
        await responder.SubscribeAsync($"{_prefix}.echo", (message, ct) => message.ReplyAsync(Encoding.UTF8.GetBytes("re:" + Encoding.UTF8.GetString(message.Data.Span)), cancellationToken: ct));
        await responder.FlushAsync();

        var replies = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => requester.RequestAsync($"{_prefix}.echo", Encoding.UTF8.GetBytes($"{i}"), cancellationToken: Timeout).AsTask()));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"re:{i}"), replies.Select(r => Encoding.UTF8.GetString(r.Data.Span)));

        await Assert.ThrowsAsync<NatsNoRespondersException>(() => requester.RequestAsync($"{_prefix}.nobody", "x"u8.ToArray()).AsTask());
    }

    [Fact]
    public async Task Auto_unsubscribe_stops_after_the_limit()
    {
        var connection = await ConnectAsync();
        var subscription = await connection.SubscribeAsync($"{_prefix}.limited", maxMessages: 3);
        await connection.FlushAsync();
        for (var i = 0; i < 10; i++)
        {
            await connection.PublishAsync($"{_prefix}.limited", new[] { (byte)('0' + i) });
        }

        var received = new List<string>();
        await foreach (var message in subscription.WithCancellation(Timeout))
        {
            received.Add(Encoding.UTF8.GetString(message.Data.Span));
        }

        Assert.Equal(["0", "1", "2"], received);
    }

    [Fact]
    public async Task Echo_off_keeps_a_connection_from_receiving_its_own_publishes()
    {
        var link = await ConnectAsync(o => o with { Echo = false });
        var other = await ConnectAsync();
        var own = await link.SubscribeAsync($"{_prefix}.echo");
        var theirs = await other.SubscribeAsync($"{_prefix}.echo");
        await link.FlushAsync();
        await other.FlushAsync();

        await link.PublishAsync($"{_prefix}.echo", "m"u8.ToArray());
        await link.FlushAsync();
        Assert.Equal("m", Encoding.UTF8.GetString((await theirs.ReadAsync(Timeout)).Data.Span));
        Assert.Equal(0, own.ReceivedMessages);
    }

    [Fact]
    public async Task Payload_above_the_servers_max_payload_is_refused_locally()
    {
        var connection = await ConnectAsync();
        var limit = connection.ServerInfo!.MaxPayload;
        var error = await Assert.ThrowsAsync<NatsPayloadTooLargeException>(() => connection.PublishAsync($"{_prefix}.big", new byte[limit + 1]).AsTask());
        Assert.Equal(limit, error.MaxPayload);
        await connection.PublishAsync($"{_prefix}.big", new byte[limit]);
        await connection.FlushAsync();
        Assert.Equal(NatsConnectionState.Connected, connection.State);
    }

    [Fact]
    public async Task Killing_and_restarting_the_server_reconnects_and_resumes_the_subscription()
    {
        await using var server = await NatsServerProcess.StartAsync();
        var subscriber = await ConnectAsync(server.Url);
        var publisher = await ConnectAsync(server.Url);
        var reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var disconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        subscriber.ConnectionEvent += (_, e) =>
        {
            if (e.Kind == NatsConnectionEventKind.Disconnected)
            {
                disconnected.TrySetResult();
            }
            else if (e.Kind == NatsConnectionEventKind.Reconnected)
            {
                reconnected.TrySetResult();
            }
        };
        var subscription = await subscriber.SubscribeAsync($"{_prefix}.resume");
        await subscriber.FlushAsync();
        await publisher.PublishAsync($"{_prefix}.resume", "before"u8.ToArray());
        Assert.Equal("before", Encoding.UTF8.GetString((await subscription.ReadAsync(Timeout)).Data.Span));

        await server.StopAsync();
        await disconnected.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await server.StartAsync();
        await reconnected.Task.WaitAsync(TimeSpan.FromSeconds(15));
        await Eventually.TrueAsync(() => publisher.State == NatsConnectionState.Connected, "publisher reconnected", TimeSpan.FromSeconds(15));

        await publisher.PublishAsync($"{_prefix}.resume", "after"u8.ToArray());
        Assert.Equal("after", Encoding.UTF8.GetString((await subscription.ReadAsync(Timeout)).Data.Span));
        Assert.Equal(1, subscriber.GetStatistics().Reconnects);
    }

    [Fact]
    public async Task User_and_password_authentication_succeeds_with_the_right_credentials_only()
    {
        await using var server = await NatsServerProcess.StartAsync("--user", "fed", "--pass", "s3cret-pw");
        var good = await ConnectAsync($"nats://fed:s3cret-pw@127.0.0.1:{server.Port}");
        Assert.True(good.ServerInfo!.AuthRequired);
        await good.FlushAsync();

        var viaOptions = await ConnectAsync(server.Url, o => o with { User = "fed", Password = "s3cret-pw" });
        await viaOptions.FlushAsync();

        await using var bad = new NatsConnection(new NatsClientOptions { Servers = [$"nats://fed:wrong-pw-123@127.0.0.1:{server.Port}"] });
        var error = await Assert.ThrowsAsync<NatsAuthenticationException>(() => bad.ConnectAsync().AsTask());
        Assert.DoesNotContain("wrong-pw-123", error.ToString(), StringComparison.Ordinal);

        await using var none = new NatsConnection(new NatsClientOptions { Servers = [server.Url] });
        await Assert.ThrowsAsync<NatsAuthenticationException>(() => none.ConnectAsync().AsTask());
    }

    [Fact]
    public async Task Concurrent_publishers_lose_nothing_and_keep_their_own_order()
    {
        var subscriber = await ConnectAsync(o => o with { SubscriptionBufferCapacity = 100_000 });
        var publisher = await ConnectAsync();
        var subscription = await subscriber.SubscribeAsync($"{_prefix}.load.*");
        await subscriber.FlushAsync();

        const int tasks = 8, perTask = 2000;
        await Task.WhenAll(Enumerable.Range(0, tasks).Select(t => Task.Run(async () =>
        {
            for (var i = 0; i < perTask; i++)
            {
                await publisher.PublishAsync($"{_prefix}.load.{t}", BitConverter.GetBytes(i));
            }
        })));
        await publisher.FlushAsync();

        var last = Enumerable.Repeat(-1, tasks).ToArray();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        for (var n = 0; n < tasks * perTask; n++)
        {
            var message = await subscription.ReadAsync(cts.Token);
            var t = int.Parse(message.Subject[(message.Subject.LastIndexOf('.') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            var i = BitConverter.ToInt32(message.Data.Span);
            Assert.Equal(last[t] + 1, i);
            last[t] = i;
        }

        Assert.All(last, l => Assert.Equal(perTask - 1, l));
        Assert.Equal(0, subscription.DroppedMessages);
        Assert.True(publisher.WriteBatches < tasks * perTask, "publishes were coalesced into fewer socket writes");
    }
}
