using System.Text.Json;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Federation.Nats.Messaging;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.Messaging;

/// <summary>
/// A drained subscription handles every message the server sent it (black-box finding: a federation broker instance
/// stopped with SIGTERM under load lost a few requests and replies, counted nowhere). The drain sent UNSUB and forgot the
/// subscription at once, so the messages the server had already sent (on the wire, or in its buffer for this client,
/// before it read the UNSUB) reached a client that no longer knew the subscription and dropped them silently. Now the
/// subscription keeps taking messages until a PING/PONG round trip shows that the server has processed the UNSUB.
/// </summary>
public sealed class NatsSubjectDrainTests
{
    [Fact]
    public async Task A_drained_subscription_handles_or_counts_every_message_the_server_sent_it()
    {
        await using var server = await NatsServerProcess.StartAsync();
        var uri = $"nats://127.0.0.1:{server.Port}";
        var transport = new NatsSubjectTransport();
        var name = $"drained-{Guid.NewGuid():N}";
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var subscriber = await transport.ConnectAsync(new SubjectConnectionRequest(uri, name), timeout.Token);
        await using var publisher = await transport.ConnectAsync(new SubjectConnectionRequest(uri, "publisher"), timeout.Token);
        long handled = 0;
        long dropped = 0;
        using var published = new ManualResetEventSlim();
        var subscription = await subscriber.SubscribeAsync("drain.test", null, (_, _) =>
        {
            // Until every message is published the handler holds the client's read loop (it is called inline), so the
            // messages the server sends pile up on the way (socket buffers, the server's buffer for this client): they are
            // all sent before the server reads the UNSUB.
            published.Wait(timeout.Token);
            Interlocked.Increment(ref handled);
            return ValueTask.CompletedTask;
        }, (_, count, _) => Interlocked.Add(ref dropped, count), timeout.Token);

        // 10 MB: well under the server's 64 MB of pending data per client, past which it would cut the subscriber off.
        var body = new byte[512];
        var publishing = Task.Run(async () =>
        {
            for (var i = 0; i < 20_000 && !timeout.IsCancellationRequested; i++)
            {
                await publisher.PublishAsync(new SubjectMessage("drain.test", body), timeout.Token);
            }

            await publisher.FlushAsync(timeout.Token);
        });
        await publishing;
        published.Set();
        await subscription.DrainAsync(timeout.Token);

        var sent = await MessagesSentToAsync(server.MonitorPort, name);
        Assert.Equal(20_000, sent);
        Assert.Equal(sent, Interlocked.Read(ref handled) + Interlocked.Read(ref dropped));
    }

    /// <summary>The server's count of messages it sent to the connection named <paramref name="name"/>.</summary>
    private static async Task<long> MessagesSentToAsync(int monitorPort, string name)
    {
        using var http = new HttpClient();
        using var connz = JsonDocument.Parse(await http.GetStringAsync(new Uri($"http://127.0.0.1:{monitorPort}/connz")));
        return connz.RootElement.GetProperty("connections").EnumerateArray()
            .Single(c => c.TryGetProperty("name", out var n) && n.GetString() == name)
            .GetProperty("out_msgs").GetInt64();
    }
}
