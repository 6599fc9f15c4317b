using System.Text;
using System.Text.Json;
using Federation.Nats.Client;
using Federation.Nats.Protocol;

namespace Federation.Nats.Tests;

public sealed class MockServerTests : IAsyncLifetime
{
    private readonly MockNatsServer _server = new();
    private readonly List<NatsConnection> _connections = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }

        await _server.DisposeAsync();
    }

    private NatsClientOptions Options(Func<NatsClientOptions, NatsClientOptions>? configure = null)
    {
        var options = new NatsClientOptions
        {
            Servers = [_server.Url],
            ReconnectWaitMin = TimeSpan.FromMilliseconds(20),
            ReconnectWaitMax = TimeSpan.FromMilliseconds(100),
            ReconnectJitter = TimeSpan.FromMilliseconds(10),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        };
        return configure is null ? options : configure(options);
    }

    private async Task<(NatsConnection Connection, MockNatsServer.MockClient Client)> ConnectAsync(NatsClientOptions? options = null)
    {
        var connection = new NatsConnection(options ?? Options());
        _connections.Add(connection);
        var connecting = connection.ConnectAsync().AsTask();
        var client = await _server.AcceptAsync();
        await connecting;
        return (connection, client);
    }

    private static List<NatsConnectionEventArgs> Record(NatsConnection connection)
    {
        var events = new List<NatsConnectionEventArgs>();
        connection.ConnectionEvent += (_, e) =>
        {
            lock (events)
            {
                events.Add(e);
            }
        };
        return events;
    }

    private static bool Has(List<NatsConnectionEventArgs> events, NatsConnectionEventKind kind)
    {
        lock (events)
        {
            return events.Any(e => e.Kind == kind);
        }
    }

    [Fact]
    public async Task Handshake_sends_connect_with_the_options_then_ping()
    {
        var (connection, client) = await ConnectAsync(Options(o => o with { Name = "link-1", Echo = false, Servers = [$"nats://alice:s3cr%40t@127.0.0.1:{_server.Port}"] }));

        var connect = client.Seen.First(c => c.Verb == "CONNECT");
        using var json = JsonDocument.Parse(connect.Line["CONNECT ".Length..]);
        var root = json.RootElement;
        Assert.Equal("link-1", root.GetProperty("name").GetString());
        Assert.False(root.GetProperty("echo").GetBoolean());
        Assert.False(root.GetProperty("verbose").GetBoolean());
        Assert.False(root.GetProperty("pedantic").GetBoolean());
        Assert.True(root.GetProperty("headers").GetBoolean());
        Assert.True(root.GetProperty("no_responders").GetBoolean());
        Assert.Equal(1, root.GetProperty("protocol").GetInt32());
        Assert.Equal("alice", root.GetProperty("user").GetString());
        Assert.Equal("s3cr@t", root.GetProperty("pass").GetString());
        Assert.Equal("PING", client.Seen[1].Verb);
        Assert.Equal(NatsConnectionState.Connected, connection.State);
        Assert.Equal("MOCK0", connection.ServerInfo!.ServerId);
        Assert.Equal($"127.0.0.1:{_server.Port}", connection.ConnectedServer);
    }

    [Fact]
    public async Task Token_in_the_url_is_sent_as_auth_token()
    {
        var (_, client) = await ConnectAsync(Options(o => o with { Servers = [$"nats://tok3n@127.0.0.1:{_server.Port}"] }));
        using var json = JsonDocument.Parse(client.Seen[0].Line["CONNECT ".Length..]);
        Assert.Equal("tok3n", json.RootElement.GetProperty("auth_token").GetString());
        Assert.False(json.RootElement.TryGetProperty("user", out _));
    }

    [Fact]
    public async Task Authorization_violation_is_a_typed_error_that_never_shows_the_password()
    {
        _server.RejectConnectWith = "Authorization Violation";
        await using var connection = new NatsConnection(Options(o => o with { Servers = [$"nats://bob:hunter2@127.0.0.1:{_server.Port}"] }));
        var error = await Assert.ThrowsAsync<NatsAuthenticationException>(() => connection.ConnectAsync().AsTask());
        Assert.DoesNotContain("hunter2", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("Authorization Violation", error.Message, StringComparison.Ordinal);
        Assert.Equal(NatsConnectionState.Initial, connection.State);
    }

    [Fact]
    public async Task Invalid_urls_do_not_echo_credentials()
    {
        var error = Assert.Throws<ArgumentException>(() => new NatsConnection(new NatsClientOptions { Servers = ["http://carol:pw123@host:1"] }));
        Assert.DoesNotContain("pw123", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Messages_split_into_single_bytes_arrive_intact_with_headers()
    {
        var (connection, client) = await ConnectAsync();
        await using var subscription = await connection.SubscribeAsync("orders.>");
        var sub = await client.WaitForVerbAsync("SUB");
        Assert.Equal(["orders.>", "1"], sub.Args);

        var frame = Encoding.UTF8.GetBytes("HMSG orders.new 1 reply.1 36 41\r\nNATS/1.0\r\nTrace: abc\r\nTrace: def\r\n\r\nhello\r\nMSG orders.old 1 2\r\nhi\r\n");
        await client.SendSplitAsync(frame, 1, TimeSpan.FromMilliseconds(1));

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var first = await subscription.ReadAsync(cts.Token);
        Assert.Equal("orders.new", first.Subject);
        Assert.Equal("reply.1", first.ReplyTo);
        Assert.Equal("hello", Encoding.UTF8.GetString(first.Data.Span));
        Assert.True(first.Headers!.TryGetValues("trace", out var traces));
        Assert.Equal(["abc", "def"], traces);
        var second = await subscription.ReadAsync(cts.Token);
        Assert.Equal(("orders.old", "hi"), (second.Subject, Encoding.UTF8.GetString(second.Data.Span)));
        Assert.Equal(2, connection.GetStatistics().InMsgs);
    }

    [Fact]
    public async Task A_malformed_frame_makes_the_client_reconnect_and_resubscribe()
    {
        var (connection, client) = await ConnectAsync();
        var events = Record(connection);
        await using var subscription = await connection.SubscribeAsync("a.b", queueGroup: "workers");
        await client.WaitForVerbAsync("SUB");

        await client.SendAsync("MSG a.b notasid 5\r\nhello\r\n");

        var second = await _server.AcceptAsync();
        var resub = await second.WaitForVerbAsync("SUB");
        Assert.Equal(["a.b", "workers", "1"], resub.Args);
        await Eventually.TrueAsync(() => Has(events, NatsConnectionEventKind.Reconnected), "Reconnected event");
        Assert.True(Has(events, NatsConnectionEventKind.Disconnected));
        Assert.Equal(1, connection.GetStatistics().ProtocolErrors);
        Assert.Equal(1, connection.GetStatistics().Reconnects);

        await second.SendAsync("MSG a.b 1 3\r\nnew\r\n");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var message = await subscription.ReadAsync(cts.Token);
        Assert.Equal("new", Encoding.UTF8.GetString(message.Data.Span));
    }

    [Fact]
    public async Task Resubscription_after_a_dropped_socket_carries_the_remaining_auto_unsubscribe_count()
    {
        var (connection, client) = await ConnectAsync();
        await using var subscription = await connection.SubscribeAsync("jobs", maxMessages: 5);
        await client.WaitForVerbAsync("SUB");
        Assert.Equal(["1", "5"], (await client.WaitForVerbAsync("UNSUB")).Args);

        await client.SendAsync("MSG jobs 1 1\r\na\r\nMSG jobs 1 1\r\nb\r\n");
        await connection.FlushAsync(); // the PONG comes after both messages
        Assert.Equal(2, subscription.ReceivedMessages);

        client.Close();
        var second = await _server.AcceptAsync();
        Assert.Equal(["jobs", "1"], (await second.WaitForVerbAsync("SUB")).Args);
        Assert.Equal(["1", "3"], (await second.WaitForVerbAsync("UNSUB")).Args);
    }

    [Fact]
    public async Task Auto_unsubscribe_ends_the_subscription_after_the_limit()
    {
        var (connection, client) = await ConnectAsync();
        var subscription = await connection.SubscribeAsync("x", maxMessages: 2);
        await client.WaitForVerbAsync("UNSUB");
        await client.SendAsync("MSG x 1 1\r\n1\r\nMSG x 1 1\r\n2\r\nMSG x 1 1\r\n3\r\n");

        var received = new List<string>();
        await foreach (var message in subscription.WithCancellation(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token))
        {
            received.Add(Encoding.UTF8.GetString(message.Data.Span));
        }

        Assert.Equal(["1", "2"], received);
    }

    [Fact]
    public async Task Unanswered_pings_mark_the_connection_stale_and_it_reconnects()
    {
        _server.IgnoreKeepAlivePings = true;
        var (connection, _) = await ConnectAsync(Options(o => o with { PingInterval = TimeSpan.FromMilliseconds(50), MaxPingsOut = 2 }));
        var events = Record(connection);

        var second = await _server.AcceptAsync();
        await Eventually.TrueAsync(() => Has(events, NatsConnectionEventKind.Disconnected), "Disconnected event");
        NatsConnectionEventArgs disconnected;
        lock (events)
        {
            disconnected = events.First(e => e.Kind == NatsConnectionEventKind.Disconnected);
        }

        Assert.Contains("Stale connection", disconnected.Error!.Message, StringComparison.Ordinal);
        Assert.Equal(1, second.Index);
    }

    [Fact]
    public async Task Answered_pings_keep_the_connection()
    {
        // generous limits (2 unanswered pings of 100 ms each) so that a loaded machine does not fake a stale connection
        var (connection, client) = await ConnectAsync(Options(o => o with { PingInterval = TimeSpan.FromMilliseconds(100), MaxPingsOut = 2 }));
        for (var i = 0; i < 5; i++)
        {
            await client.WaitForVerbAsync("PING");
        }

        Assert.Equal(1, _server.Connections);
        Assert.Equal(NatsConnectionState.Connected, connection.State);
    }

    [Fact]
    public async Task Server_ping_is_answered_with_pong()
    {
        var (_, client) = await ConnectAsync();
        await client.SendAsync("PING\r\n");
        await client.WaitForVerbAsync("PONG");
    }

    [Fact]
    public async Task Publishes_above_max_payload_are_refused_before_sending()
    {
        _server.MaxPayload = 1024;
        var (connection, client) = await ConnectAsync();
        var headers = new NatsHeaders().Add("K", "v");

        await connection.PublishAsync("ok", new byte[1024]);
        var error = await Assert.ThrowsAsync<NatsPayloadTooLargeException>(() => connection.PublishAsync("big", new byte[1024 - 5], headers).AsTask());
        Assert.Equal(1024, error.MaxPayload);
        Assert.Equal(1024 - 5 + HeaderCodec.GetLength(headers), error.Size);
        Assert.Contains("1024", error.Message, StringComparison.Ordinal);
        await connection.PublishAsync("after", "x"u8.ToArray());

        Assert.Equal(1024, (await client.WaitForVerbAsync("PUB")).Payload.Length);
        Assert.Equal("after", (await client.WaitForVerbAsync("PUB")).Args[0]);
        Assert.DoesNotContain(client.Seen, c => c.Line.Contains("big", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Hpub_carries_headers_and_reply_to()
    {
        var (connection, client) = await ConnectAsync();
        await connection.PublishAsync("s.1", "data"u8.ToArray(), new NatsHeaders().Add("A", "1"), replyTo: "r.1");
        var hpub = await client.WaitForVerbAsync("HPUB");
        Assert.Equal(["s.1", "r.1", "18", "22"], hpub.Args);
        Assert.Equal("NATS/1.0\r\nA: 1\r\n\r\ndata", hpub.PayloadText);
    }

    [Fact]
    public async Task A_request_nobody_listens_to_fails_with_no_responders()
    {
        var (connection, client) = await ConnectAsync();
        var request = connection.RequestAsync("svc.echo", "ping"u8.ToArray()).AsTask();
        var sub = await client.WaitForVerbAsync("SUB");
        Assert.Matches(@"^_INBOX\.[0-9A-Za-z]{22}\.\*$", sub.Args[0]);
        var pub = await client.WaitForVerbAsync("PUB");
        var replyTo = pub.Args[1];
        Assert.StartsWith(sub.Args[0][..^1], replyTo, StringComparison.Ordinal);

        await client.SendAsync($"HMSG {replyTo} {sub.Args[1]} 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
        await Assert.ThrowsAsync<NatsNoRespondersException>(() => request);
    }

    [Fact]
    public async Task Requests_share_one_inbox_subscription_and_match_replies_by_token()
    {
        var (connection, client) = await ConnectAsync();
        var first = connection.RequestAsync("svc", "1"u8.ToArray()).AsTask();
        var second = connection.RequestAsync("svc", "2"u8.ToArray()).AsTask();
        var pubs = new[] { await client.WaitForVerbAsync("PUB"), await client.WaitForVerbAsync("PUB") };
        Assert.Single(client.Seen, c => c.Verb == "SUB");
        var sid = client.Seen.Single(c => c.Verb == "SUB").Args[1];

        // answer in reverse order
        foreach (var pub in pubs.Reverse())
        {
            await client.SendAsync($"MSG {pub.Args[1]} {sid} 6\r\nre:{pub.PayloadText}..\r\n");
        }

        Assert.Equal("re:1..", Encoding.UTF8.GetString((await first).Data.Span));
        Assert.Equal("re:2..", Encoding.UTF8.GetString((await second).Data.Span));
    }

    [Fact]
    public async Task A_request_without_reply_times_out()
    {
        var (connection, _) = await ConnectAsync();
        await Assert.ThrowsAsync<NatsRequestTimeoutException>(() => connection.RequestAsync("svc", "x"u8.ToArray(), timeout: TimeSpan.FromMilliseconds(100)).AsTask());
    }

    [Fact]
    public async Task Permission_errors_are_reported_without_dropping_the_connection()
    {
        var (connection, client) = await ConnectAsync();
        var events = Record(connection);
        await client.SendAsync("-ERR 'Permissions Violation for Publish to secret'\r\n");
        await Eventually.TrueAsync(() => Has(events, NatsConnectionEventKind.ServerError), "ServerError event");
        await connection.FlushAsync();
        Assert.Equal(1, _server.Connections);
        Assert.Equal(NatsConnectionState.Connected, connection.State);
    }

    [Fact]
    public async Task Fatal_server_errors_cause_a_reconnect()
    {
        var (connection, client) = await ConnectAsync();
        await client.SendAsync("-ERR 'Slow Consumer'\r\n");
        var second = await _server.AcceptAsync();
        Assert.Equal(1, second.Index);
        await Eventually.TrueAsync(() => connection.State == NatsConnectionState.Connected && connection.GetStatistics().Reconnects == 1, "reconnected");
    }

    [Fact]
    public async Task Publishing_while_disconnected_fails_fast_and_subscribing_is_replayed_later()
    {
        var (connection, client) = await ConnectAsync(Options(o => o with { ReconnectWaitMin = TimeSpan.FromMilliseconds(300), ReconnectWaitMax = TimeSpan.FromMilliseconds(300) }));
        await _server.DisposeAsync(); // nothing to reconnect to
        await Eventually.TrueAsync(() => connection.State == NatsConnectionState.Reconnecting, "Reconnecting state");
        await Assert.ThrowsAsync<NatsNotConnectedException>(() => connection.PublishAsync("x", "y"u8.ToArray()).AsTask());
        await Assert.ThrowsAsync<NatsNotConnectedException>(() => connection.FlushAsync().AsTask());
        var subscription = await connection.SubscribeAsync("later");
        Assert.Equal("later", subscription.Subject);
    }

    [Fact]
    public async Task Publishing_before_connect_fails_fast()
    {
        await using var connection = new NatsConnection(Options());
        await Assert.ThrowsAsync<NatsNotConnectedException>(() => connection.PublishAsync("x", "y"u8.ToArray()).AsTask());
    }

    [Theory]
    [InlineData(SlowConsumerPolicy.DropIncoming, "1,2")]
    [InlineData(SlowConsumerPolicy.DropOldest, "4,5")]
    public async Task A_full_subscription_buffer_drops_per_policy_and_counts(SlowConsumerPolicy policy, string expected)
    {
        var (connection, client) = await ConnectAsync(Options(o => o with { SubscriptionBufferCapacity = 2, SlowConsumerPolicy = policy }));
        await using var subscription = await connection.SubscribeAsync("s");
        await client.WaitForVerbAsync("SUB");
        await client.SendAsync(string.Concat(Enumerable.Range(1, 5).Select(i => $"MSG s 1 1\r\n{i}\r\n")));
        await connection.FlushAsync();

        Assert.Equal(3, subscription.DroppedMessages);
        Assert.Equal(3, connection.GetStatistics().DroppedMessages);
        var kept = new List<string>();
        while (subscription.TryRead(out var message))
        {
            kept.Add(Encoding.UTF8.GetString(message!.Data.Span));
        }

        Assert.Equal(expected, string.Join(',', kept));
    }

    [Fact]
    public async Task Drain_unsubscribes_processes_buffered_messages_and_closes()
    {
        var (connection, client) = await ConnectAsync();
        var handled = new List<string>();
        var gate = new TaskCompletionSource();
        var subscription = await connection.SubscribeAsync("work", async (message, ct) =>
        {
            await gate.Task;
            lock (handled)
            {
                handled.Add(Encoding.UTF8.GetString(message.Data.Span));
            }
        });
        await client.WaitForVerbAsync("SUB");
        await client.SendAsync("MSG work 1 1\r\na\r\nMSG work 1 1\r\nb\r\nMSG work 1 1\r\nc\r\n");
        await connection.FlushAsync();

        var drain = connection.DrainAsync().AsTask();
        Assert.Equal(["1"], (await client.WaitForVerbAsync("UNSUB")).Args);
        gate.SetResult();
        await drain;
        Assert.Equal(["a", "b", "c"], handled);
        Assert.Equal(NatsConnectionState.Closed, connection.State);
        Assert.True(subscription.Completion.IsCompleted);
    }

    [Fact]
    public async Task Handler_exceptions_are_counted_and_do_not_stop_the_subscription()
    {
        var (connection, client) = await ConnectAsync();
        var seen = 0;
        var subscription = await connection.SubscribeAsync("h", (message, ct) =>
        {
            Interlocked.Increment(ref seen);
            return message.Data.Span[0] == (byte)'!' ? throw new InvalidOperationException("boom") : ValueTask.CompletedTask;
        });
        await client.WaitForVerbAsync("SUB");
        await client.SendAsync("MSG h 1 1\r\n!\r\nMSG h 1 1\r\nk\r\n");
        await Eventually.TrueAsync(() => Volatile.Read(ref seen) == 2, "both messages handled");
        Assert.Equal(1, subscription.HandlerErrors);
    }

    [Fact]
    public async Task Concurrent_commands_are_coalesced_and_statistics_count_them()
    {
        var (connection, client) = await ConnectAsync();
        for (var i = 0; i < 500; i++)
        {
            await connection.PublishAsync("bulk", "12345"u8.ToArray());
        }

        await connection.FlushAsync();
        Assert.Equal(500, client.Seen.Count(c => c.Verb == "PUB"));
        Assert.True(connection.WriteBatches < 500, $"{connection.WriteBatches} socket writes for 500 publishes and a PING");
        var stats = connection.GetStatistics();
        Assert.Equal((500, 2500), (stats.OutMsgs, stats.OutBytes));
    }

    [Fact]
    public async Task Unsubscribe_sends_unsub_and_ends_enumeration()
    {
        var (connection, client) = await ConnectAsync();
        var subscription = await connection.SubscribeAsync("u");
        await client.WaitForVerbAsync("SUB");
        await subscription.UnsubscribeAsync();
        Assert.Equal(["1"], (await client.WaitForVerbAsync("UNSUB")).Args);
        await subscription.Completion.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Gives_up_after_max_reconnect_attempts_and_closes()
    {
        var (connection, _) = await ConnectAsync(Options(o => o with { MaxReconnectAttempts = 2 }));
        var events = Record(connection);
        var subscription = await connection.SubscribeAsync("z");
        await _server.DisposeAsync();
        await Eventually.TrueAsync(() => connection.State == NatsConnectionState.Closed, "Closed state");
        Assert.True(Has(events, NatsConnectionEventKind.ReconnectFailed));
        await subscription.Completion.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Reconnects_to_the_next_server_of_the_list_and_replays_subscriptions_there()
    {
        await using var backup = new MockNatsServer();
        var (connection, client) = await ConnectAsync(Options(o => o with { Servers = [_server.Url, backup.Url] }));
        var events = Record(connection);
        await using var subscription = await connection.SubscribeAsync("fail.over");
        await client.WaitForVerbAsync("SUB");

        await _server.DisposeAsync();
        var moved = await backup.AcceptAsync();
        Assert.Equal(["fail.over", "1"], (await moved.WaitForVerbAsync("SUB")).Args);
        await Eventually.TrueAsync(() => Has(events, NatsConnectionEventKind.Reconnected), "Reconnected event");
        Assert.Equal($"127.0.0.1:{backup.Port}", connection.ConnectedServer);
        await moved.SendAsync("MSG fail.over 1 2\r\nok\r\n");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal("ok", Encoding.UTF8.GetString((await subscription.ReadAsync(cts.Token)).Data.Span));
    }

    [Fact]
    public async Task Servers_announced_in_connect_urls_join_the_reconnect_rotation()
    {
        await using var member = new MockNatsServer();
        _server.InfoJson = _ => $"{{\"server_id\":\"A\",\"headers\":true,\"max_payload\":1048576,\"connect_urls\":[\"127.0.0.1:{member.Port}\"]}}";
        var (connection, _) = await ConnectAsync();
        await _server.DisposeAsync();
        var moved = await member.AcceptAsync();
        await moved.WaitForVerbAsync("CONNECT");
        await Eventually.TrueAsync(() => connection.State == NatsConnectionState.Connected && connection.ServerInfo!.ServerId == "MOCK0", "connected to the announced member");
    }

    [Fact]
    public async Task Discovery_can_be_turned_off()
    {
        await using var member = new MockNatsServer();
        _server.InfoJson = _ => $"{{\"server_id\":\"A\",\"headers\":true,\"connect_urls\":[\"127.0.0.1:{member.Port}\"]}}";
        var (connection, _) = await ConnectAsync(Options(o => o with { DiscoverServers = false, MaxReconnectAttempts = 3 }));
        await _server.DisposeAsync();
        await Eventually.TrueAsync(() => connection.State == NatsConnectionState.Closed, "gave up");
        Assert.Equal(0, member.Connections);
    }

    [Fact]
    public async Task Lifecycle_events_are_raised_in_order()
    {
        var connection = new NatsConnection(Options());
        var events = Record(connection);
        var connecting = connection.ConnectAsync().AsTask();
        var client = await _server.AcceptAsync();
        await connecting;
        client.Close();
        await _server.AcceptAsync();
        await Eventually.TrueAsync(() => Has(events, NatsConnectionEventKind.Reconnected), "Reconnected event");
        await connection.DisposeAsync();
        await Eventually.TrueAsync(() => Has(events, NatsConnectionEventKind.Closed), "Closed event");
        List<NatsConnectionEventKind> kinds;
        lock (events)
        {
            kinds = [.. events.Select(e => e.Kind)];
        }

        Assert.Equal([NatsConnectionEventKind.Connected, NatsConnectionEventKind.Disconnected, NatsConnectionEventKind.Reconnected, NatsConnectionEventKind.Closed], kinds);
    }

    [Fact]
    public async Task Messages_for_unknown_sids_and_verbose_acks_are_ignored()
    {
        var (connection, client) = await ConnectAsync();
        await using var subscription = await connection.SubscribeAsync("known");
        await client.WaitForVerbAsync("SUB");
        await client.SendAsync("+OK\r\nMSG known 99 1\r\nx\r\nINFO {\"server_id\":\"MOCK0\",\"max_payload\":2048}\r\nMSG known 1 1\r\ny\r\n");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal("y", Encoding.UTF8.GetString((await subscription.ReadAsync(cts.Token)).Data.Span));
        Assert.Equal(2048, connection.ServerInfo!.MaxPayload); // INFO at any time updates the limits
        Assert.Equal(NatsConnectionState.Connected, connection.State);
        Assert.Equal(1, _server.Connections);
    }
}
