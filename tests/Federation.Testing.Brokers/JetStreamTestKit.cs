using System.Globalization;
using System.Text;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Xunit;

namespace Federation.Testing.Brokers;

/// <summary>
/// Application-side JetStream plumbing of the durable-link tests, on the official client: a producer whose every message
/// the upstream stream confirmed, and the exact content of a downstream stream. Waits poll with deadlines.
/// </summary>
public static class JetStreamTestKit
{
    // Between two checks of a deadline-bounded poll; never a wait for the behaviour itself.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Reads every message of <paramref name="stream"/> and returns the bodies as text, in stream order.</summary>
    public static async Task<List<string>> ReadAllTextAsync(NatsServerProcess server, string stream)
    {
        await using var nats = new NatsConnection(new NatsOpts { Url = server.Url, Name = "test-reader" });
        await nats.ConnectAsync();
        var js = new NatsJSContext(nats);
        var consumer = await js.CreateOrUpdateConsumerAsync(stream, new ConsumerConfig { AckPolicy = ConsumerConfigAckPolicy.None, DeliverPolicy = ConsumerConfigDeliverPolicy.All });
        var bodies = new List<string>();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var message in consumer.ConsumeAsync(NatsRawSerializer<byte[]>.Default, new NatsJSConsumeOpts { MaxMsgs = 5000 }, deadline.Token))
        {
            bodies.Add(Encoding.UTF8.GetString(message.Data ?? []));
            if (message.Metadata is { NumPending: 0 })
            {
                break;
            }
        }

        return bodies;
    }

    /// <summary>Publishes messages <c>first .. first+count-1</c> (the body is the number) to <c>exchange.&lt;n mod 10&gt;</c>; returns once the stream confirmed every one.</summary>
    public static async Task PublishConfirmedAsync(NatsServerProcess server, string exchange, int first, int count)
    {
        const int Window = 2000;
        await using var nats = new NatsConnection(new NatsOpts { Url = server.Url, Name = "test-producer" });
        await nats.ConnectAsync();
        var js = new NatsJSContext(nats);
        var pending = new List<NatsJSPublishConcurrentFuture>(Window);
        for (var i = first; i < first + count; i++)
        {
            var subject = $"{exchange}.{(i % 10).ToString(CultureInfo.InvariantCulture)}";
            pending.Add(await js.PublishConcurrentAsync(subject, Encoding.ASCII.GetBytes(i.ToString(CultureInfo.InvariantCulture))));
            if (pending.Count == Window || i == first + count - 1)
            {
                foreach (var future in pending)
                {
                    await using (future)
                    {
                        var ack = await future.GetResponseAsync();
                        Assert.Null(ack.Error);
                    }
                }

                pending.Clear();
            }
        }
    }

    /// <summary>The number of messages in <paramref name="stream"/> on <paramref name="server"/>, or -1 when it does not exist or the server is down.</summary>
    public static async Task<long> CountAsync(NatsServerProcess server, string stream)
    {
        try
        {
            await using var nats = new NatsConnection(new NatsOpts { Url = server.Url, Name = "test-counter", MaxReconnectRetry = 0 });
            await nats.ConnectAsync();
            var info = await new NatsJSContext(nats).GetStreamAsync(stream);
            return info.Info.State.Messages;
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException)
        {
            return -1;
        }
    }

    /// <summary>The consumers of <paramref name="stream"/>, with their pending and unacknowledged counts.</summary>
    public static async Task<List<ConsumerInfo>> ConsumersAsync(NatsServerProcess server, string stream)
    {
        await using var nats = new NatsConnection(new NatsOpts { Url = server.Url, Name = "test-consumers" });
        await nats.ConnectAsync();
        var js = new NatsJSContext(nats);
        var consumers = new List<ConsumerInfo>();
        try
        {
            // By name, then each on its own: a consumer deleted while the server lists them (a link cleaning up under a test
            // that polls) comes back without its info, and the client's ListConsumersAsync throws NullReferenceException on it.
            await foreach (var name in js.ListConsumerNamesAsync(stream))
            {
                try
                {
                    consumers.Add((await js.GetConsumerAsync(stream, name)).Info);
                }
                catch (NatsJSApiException ex) when (ex.Error.Code == 404)
                {
                    // Deleted meanwhile.
                }
                catch (NatsDeserializeException)
                {
                    // Deleted meanwhile, while the server answered: nats-server 2.9 then answers without the consumer's
                    // name and stream, which the client refuses (seen polling across a rename that deletes the old one).
                }
            }
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == 404)
        {
        }

        return consumers;
    }

    /// <summary>Reads every message of <paramref name="stream"/> (an ephemeral consumer, no acks) and returns the bodies as numbers, in stream order; <paramref name="expected"/> sizes the list.</summary>
    public static async Task<List<int>> ReadAllAsync(NatsServerProcess server, string stream, long expected)
    {
        var bodies = new List<int>((int)expected);
        foreach (var body in await ReadAllTextAsync(server, stream))
        {
            bodies.Add(int.Parse(body, CultureInfo.InvariantCulture));
        }

        return bodies;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; past <paramref name="timeout"/> fails with <paramref name="describe"/>.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, Func<string> describe, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Timed out waiting for " + describe());
            }

            await Task.Delay(PollInterval);
        }
    }
}
