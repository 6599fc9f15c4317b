using System.Buffers.Binary;
using Federation.Core.Transport;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// Publisher confirms of the NATS transport on the official client: group-committed (one PING confirms a whole batch), never
/// a success across a reconnect (a PONG from the new connection proves nothing about the old one), and a message over the
/// server's <c>max_payload</c> is a nack, not a hang.
/// </summary>
public sealed class NatsPublishConfirmTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static byte[] Numbered(int i)
    {
        var body = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(body, i);
        return body;
    }

    private static async Task<NatsConnection> ConnectClientAsync(NatsServerProcess server, string name, Func<NatsOpts, NatsOpts>? adjust = null)
    {
        var opts = NatsOpts.Default with { Url = server.Url, Name = name };
        var client = new NatsConnection(adjust is null ? opts : adjust(opts));
        await client.ConnectAsync();
        return client;
    }

    private static ValueTask<IBrokerConnection> ConnectTransportAsync(NatsServerProcess server, string name) =>
        new NatsTransport().ConnectAsync(new ConnectionRequest(server.Url, name), CancellationToken.None);

    /// <summary>The trace lines (<c>-V</c>) of what the server received from the connection named <paramref name="name"/>.</summary>
    private static List<string> Received(NatsServerProcess server, string name) =>
        [.. server.Log.Split('\n').Where(l => l.Contains($"{name}\" - <<- ", StringComparison.Ordinal))];

    [Fact]
    public async Task Confirms_of_many_publishes_share_few_pings_and_every_message_arrives_in_order()
    {
        const int Count = 1000;
        const string Name = "group-commit-publisher";
        await using var frozen = await FrozenNatsServer.StartAsync("-V");
        var server = frozen.Server;
        await using var subscriber = await ConnectClientAsync(server, "group-commit-subscriber", o => o with { SubPendingChannelCapacity = Count * 2 });
        await using var subscription = await subscriber.SubscribeCoreAsync<byte[]>("orders.>");
        await subscriber.PingAsync();
        await using var connection = await ConnectTransportAsync(server, Name);
        await using var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true, MaxOutstandingConfirms: Count), CancellationToken.None);

        // While the server is frozen no PONG comes back: the first publish's PING waits, and all the others join one batch.
        await frozen.FreezeAsync();
        var confirms = new List<Task>(Count);
        for (var i = 0; i < Count; i++)
        {
            confirms.Add(publisher.PublishAsync("orders", "k", new MessageProperties { MessageId = $"m{i}" }, Numbered(i), CancellationToken.None).AsTask());
        }

        Assert.DoesNotContain(confirms, c => c.IsCompleted);
        await frozen.ThawAsync();
        await Task.WhenAll(confirms).WaitAsync(Deadline);

        using (var timeout = new CancellationTokenSource(Deadline))
        {
            for (var i = 0; i < Count; i++)
            {
                var message = await subscription.Msgs.ReadAsync(timeout.Token);
                Assert.Equal(i, BinaryPrimitives.ReadInt32BigEndian(message.Data));
                Assert.Equal($"m{i}", NatsMessageMapping.ToProperties(message.Headers).MessageId);
            }
        }

        // A marker published after the last confirm (with its own confirm, whose PING follows it): once the server's trace
        // shows the marker, it shows every PING of the batches before it.
        await publisher.PublishAsync("orders", "marker", new MessageProperties(), Numbered(-1), CancellationToken.None);
        await Eventually.TrueAsync(() => Received(server, Name).Any(l => l.Contains("orders.marker", StringComparison.Ordinal)), "the marker in the server's trace", Deadline);
        var received = Received(server, Name);
        var firstPublish = received.FindIndex(l => l.Contains("PUB orders.k", StringComparison.Ordinal));
        var marker = received.FindIndex(l => l.Contains("orders.marker", StringComparison.Ordinal));
        var pings = received[firstPublish..marker].Count(l => l.Contains("<<- [PING]", StringComparison.Ordinal));
        Assert.Equal(Count, received.Count(l => l.Contains("PUB orders.k ", StringComparison.Ordinal)));
        Assert.InRange(pings, 1, 2); // the first publish's PING, then one for the batch that formed behind it
    }

    [Fact]
    public async Task A_pong_from_a_reconnected_client_does_not_confirm_what_was_published_before()
    {
        await using var server = await NatsServerProcess.StartAsync();
        await using var client = await ConnectClientAsync(server, "reconnecting-publisher", o => o with { ReconnectWaitMin = TimeSpan.FromMilliseconds(50), ReconnectJitter = TimeSpan.Zero });
        var confirmer = new NatsPublishConfirmer(client, new TaskCompletionSource().Task); // never "lost": only the identity check can tell
        var before = confirmer.Current;
        await client.PublishAsync("orders.k", Numbered(1));

        await server.StopAsync(); // SIGKILL: whatever the server had not read is gone
        await server.StartAsync();
        await Eventually.TrueAsync(() => client.ConnectionState == NatsConnectionState.Open && confirmer.Current != before, "the client to reconnect to the restarted server", Deadline);

        // The PING of this confirm goes out on the new connection and its PONG comes back: that must not confirm the old publish.
        await Assert.ThrowsAsync<ConnectionLostException>(() => confirmer.ConfirmAsync(before).WaitAsync(Deadline));

        // What is published under the new identity is confirmed as usual.
        var now = confirmer.Current;
        await client.PublishAsync("orders.k", Numbered(2));
        await confirmer.ConfirmAsync(now).WaitAsync(Deadline);
    }

    [Fact]
    public async Task A_confirm_pending_when_the_server_dies_fails_even_if_the_client_reconnects_before_it_is_answered()
    {
        await using var frozen = await FrozenNatsServer.StartAsync();
        var server = frozen.Server;
        await using var client = await ConnectClientAsync(server, "reconnecting-publisher", o => o with { ReconnectWaitMin = TimeSpan.FromMilliseconds(50), ReconnectJitter = TimeSpan.Zero });
        var confirmer = new NatsPublishConfirmer(client, new TaskCompletionSource().Task);

        await frozen.FreezeAsync();
        var identity = confirmer.Current;
        await client.PublishAsync("orders.k", Numbered(1));
        var confirm = confirmer.ConfirmAsync(identity);
        Assert.False(confirm.IsCompleted);

        await server.StopAsync(); // SIGKILL of the frozen server: the message and the PING die with it
        await server.StartAsync();

        await Assert.ThrowsAsync<ConnectionLostException>(() => confirm.WaitAsync(Deadline));
        await Eventually.TrueAsync(() => client.ConnectionState == NatsConnectionState.Open && confirmer.Current != identity, "the client to reconnect", Deadline);
    }

    [Fact]
    public async Task A_transport_confirm_pending_when_the_server_is_killed_fails_with_ConnectionLostException()
    {
        await using var frozen = await FrozenNatsServer.StartAsync();
        var server = frozen.Server;
        await using var connection = await ConnectTransportAsync(server, "killed-publisher");
        await using var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
        await publisher.PublishAsync("orders", "k", new MessageProperties(), Numbered(0), CancellationToken.None).AsTask().WaitAsync(Deadline);

        await frozen.FreezeAsync();
        var pending = publisher.PublishAsync("orders", "k", new MessageProperties(), Numbered(1), CancellationToken.None).AsTask();
        Assert.False(pending.IsCompleted);
        await server.StopAsync();
        await server.StartAsync(); // same port: a client that reconnected on its own would get a PONG from here

        await Assert.ThrowsAsync<ConnectionLostException>(() => pending.WaitAsync(Deadline));
        await Assert.ThrowsAsync<ConnectionLostException>(() => connection.Completion.WaitAsync(Deadline));
        await Assert.ThrowsAsync<ConnectionLostException>(async () => await publisher.PublishAsync("orders", "k", new MessageProperties(), Numbered(2), CancellationToken.None));
    }

    [Fact]
    public async Task A_bind_waiting_for_its_pong_when_the_server_is_killed_fails_with_ConnectionLostException()
    {
        await using var frozen = await FrozenNatsServer.StartAsync();
        var server = frozen.Server;
        await using var connection = await ConnectTransportAsync(server, "killed-binder");
        await connection.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);

        await frozen.FreezeAsync();
        var bind = connection.BindAsync(new BindingSpec("orders", "q", BindingDestinationKind.Queue, "k"), noWait: false, CancellationToken.None).AsTask();
        Assert.False(bind.IsCompleted);
        await server.StopAsync();
        await server.StartAsync();

        // Not an OperationCanceledException: nobody cancelled the bind, the connection was lost under it.
        await Assert.ThrowsAsync<ConnectionLostException>(() => bind.WaitAsync(Deadline));
    }

    [Fact]
    public async Task A_message_over_max_payload_is_nacked_and_the_publisher_goes_on()
    {
        var directory = Directory.CreateTempSubdirectory("nats-max-payload-").FullName;
        try
        {
            var config = Path.Combine(directory, "server.conf");
            await File.WriteAllTextAsync(config, "max_payload: 1024\n");
            await using var server = await NatsServerProcess.StartAsync("-c", config);
            await using var subscriber = await ConnectClientAsync(server, "max-payload-subscriber");
            await using var subscription = await subscriber.SubscribeCoreAsync<byte[]>("orders.>");
            await subscriber.PingAsync();
            await using var connection = await ConnectTransportAsync(server, "max-payload-publisher");
            await using var confirming = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
            await using var unconfirmed = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: false), CancellationToken.None);

            var tooLarge = new byte[2048];
            var nack = await Assert.ThrowsAsync<MessageRefusedException>(() => confirming.PublishAsync("orders", "big", new MessageProperties(), tooLarge, CancellationToken.None).AsTask().WaitAsync(Deadline));
            Assert.Contains("1024", nack.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<MessageRefusedException>(() => unconfirmed.PublishAsync("orders", "big", new MessageProperties(), tooLarge, CancellationToken.None).AsTask().WaitAsync(Deadline));

            // Neither the connection nor the publisher is broken by the refusal.
            await confirming.PublishAsync("orders", "small", new MessageProperties(), Numbered(7), CancellationToken.None).AsTask().WaitAsync(Deadline);
            Assert.False(connection.Completion.IsCompleted);
            using var timeout = new CancellationTokenSource(Deadline);
            var message = await subscription.Msgs.ReadAsync(timeout.Token);
            Assert.Equal("orders.small", message.Subject);
            Assert.False(subscription.Msgs.TryRead(out _));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
