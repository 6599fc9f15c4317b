using System.Buffers.Binary;
using Federation.Core.Transport;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// The NATS publisher when the client's write buffer is full (the server reads nothing while it is frozen): later publishes
/// queue in the publisher, still arrive in call order, complete (or confirm) once written, and a message over the server's
/// <c>max_payload</c> among them is refused on its own.
/// </summary>
public sealed class NatsPublisherBacklogTests
{
    private const int Count = 1000;
    private const int BodySize = 32 * 1024; // 32 MB in all: more than the client's buffer and the sockets' together
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static byte[] Numbered(int i, int size = BodySize)
    {
        var body = new byte[size];
        BinaryPrimitives.WriteInt32BigEndian(body, i);
        return body;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Publishes_behind_a_full_client_buffer_complete_in_order_and_only_the_oversized_one_is_refused(bool confirms)
    {
        const int Oversized = Count / 2;
        var directory = Directory.CreateTempSubdirectory("nats-backlog-").FullName;
        try
        {
            var config = Path.Combine(directory, "server.conf");
            await File.WriteAllTextAsync(config, "max_payload: 65536\nmax_pending: 134217728\n");
            await using var frozen = await FrozenNatsServer.StartAsync("-c", config);
            await using var subscriber = new NatsConnection(NatsOpts.Default with { Url = frozen.Server.Url, Name = "backlog-subscriber", SubPendingChannelCapacity = Count * 2 });
            await subscriber.ConnectAsync();
            await using var subscription = await subscriber.SubscribeCoreAsync<byte[]>("orders.>");
            await subscriber.PingAsync();
            await using var connection = await new NatsTransport().ConnectAsync(new ConnectionRequest(frozen.Server.Url, "backlog-publisher"), CancellationToken.None);
            await using var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: confirms, MaxOutstandingConfirms: Count), CancellationToken.None);

            await frozen.FreezeAsync();
            var publishes = new List<Task>(Count);
            for (var i = 0; i < Count; i++)
            {
                var body = i == Oversized ? Numbered(i, 128 * 1024) : Numbered(i);
                publishes.Add(publisher.PublishAsync("orders", "k", new MessageProperties { MessageId = $"m{i}" }, body, CancellationToken.None).AsTask());
            }

            // The buffers are full: the last publishes wait (queued in the publisher, behind the one the client holds).
            Assert.False(publishes[^1].IsCompleted);
            await frozen.ThawAsync();

            var refused = await Assert.ThrowsAsync<MessageRefusedException>(() => publishes[Oversized].WaitAsync(Deadline));
            Assert.Contains("65536", refused.Message, StringComparison.Ordinal);
            await Task.WhenAll(publishes.Where((_, i) => i != Oversized)).WaitAsync(Deadline);
            Assert.False(connection.Completion.IsCompleted);

            using var timeout = new CancellationTokenSource(Deadline);
            for (var i = 0; i < Count; i++)
            {
                if (i == Oversized)
                {
                    continue;
                }

                var message = await subscription.Msgs.ReadAsync(timeout.Token);
                Assert.Equal(i, BinaryPrimitives.ReadInt32BigEndian(message.Data));
                Assert.Equal($"m{i}", NatsMessageMapping.ToProperties(message.Headers).MessageId);
            }

            // The publisher goes on on its synchronous path.
            await publisher.PublishAsync("orders", "after", new MessageProperties(), Numbered(-1, 4), CancellationToken.None).AsTask().WaitAsync(Deadline);
            var after = await subscription.Msgs.ReadAsync(timeout.Token);
            Assert.Equal("orders.after", after.Subject);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void The_size_bound_covers_the_header_block_and_the_body()
    {
        NatsHeaders headers = new() { ["x-received-from"] = new Microsoft.Extensions.Primitives.StringValues(["uri=a", "uri=b"]) };

        // 12 (NATS/1.0 and the blank line) + 2 x (15 + 4 + 3 x 5) = 80 at most, plus the body.
        Assert.False(NatsPublisher.MayExceedMaxPayload(headers, 20, 100));
        Assert.True(NatsPublisher.MayExceedMaxPayload(headers, 21, 100));
        Assert.False(NatsPublisher.MayExceedMaxPayload(null, 100, 100));
        Assert.True(NatsPublisher.MayExceedMaxPayload(null, 101, 100));
    }
}
