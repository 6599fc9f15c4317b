using Federation.Core.Hops;
using Federation.Core.Transport;
using Xunit;

namespace Federation.Transport.Contracts;

public abstract partial class TransportContractTests
{
    /// <summary>One value of every normalised header type listed in <see cref="MessageProperties"/>' remarks.</summary>
    public static TheoryData<string, object?> HeaderValues => new()
    {
        { "string", "text ü" },
        { "bool", true },
        { "int", 42 },
        { "long", 1L << 40 },
        { "short", (short)-7 },
        { "byte", (byte)200 },
        { "sbyte", (sbyte)-5 },
        { "float", 1.5f },
        { "double", 2.25 },
        { "decimal", 12.5m },
        { "binary", new byte[] { 0, 1, 254, 255 } },
        { "timestamp", new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero) },
        { "list", new List<object?> { "a", 1, true, new List<object?> { 2L } } },
        { "table", new Dictionary<string, object?> { ["cluster-name"] = "c1", ["hops"] = 2, ["nested"] = new Dictionary<string, object?> { ["deep"] = "yes" } } },
        { "received-from", new List<object?> { new Dictionary<string, object?> { ["uri"] = "amqp://up", ["exchange"] = "x", ["redelivered"] = false, ["cluster-name"] = "up", ["vhost"] = "/" } } },
        { "void", null },
    };

    [Theory]
    [MemberData(nameof(HeaderValues))]
    public async Task HeaderValue_RoundTrips(string name, object? value)
    {
        var delivered = await RoundTripAsync(new MessageProperties { Headers = new() { [name] = value } });

        object? actual = null;
        var arrived = delivered.Headers?.TryGetValue(name, out actual) ?? false;
        if (!Has(TransportCapabilities.TypedHeaders) && value is not string)
        {
            // Headers carry text: any other value arrives as a string or not at all.
            Assert.True(!arrived || actual is string, $"header '{name}': sent {value}, received {actual} ({actual?.GetType().Name ?? "null"}) instead of text or nothing");
            return;
        }

        Assert.True(arrived, $"header '{name}' missing");
        Assert.True(HeaderValueComparer.Instance.Equals(value, actual), $"header '{name}': sent {value}, received {actual}");
    }

    /// <summary>Every transport keeps the trail: hop and cycle rules depend on it.</summary>
    [Fact]
    public async Task ReceivedFromTrail_RoundTrips()
    {
        var trail = new List<object?>
        {
            new Dictionary<string, object?> { ["uri"] = "amqp://up/%2f", ["exchange"] = "x", ["redelivered"] = false, ["cluster-name"] = "up", ["vhost"] = "/" },
            new Dictionary<string, object?> { ["uri"] = "nats://further:4222", ["exchange"] = "orders.eu", ["redelivered"] = true, ["cluster-name"] = "further; b=c", ["vhost"] = "/" },
        };

        var delivered = await RoundTripAsync(new MessageProperties { Headers = new() { [HopHeaders.ReceivedFrom] = trail } });

        Assert.True(delivered.Headers!.TryGetValue(HopHeaders.ReceivedFrom, out var actual), "the trail is missing");
        Assert.True(HeaderValueComparer.Instance.Equals(trail, actual), $"the trail changed on the way: received {actual}");
    }

    /// <summary>
    /// A trail entry whose <c>redelivered</c> is not a boolean is still a hop, as in RabbitMQ's plugin (which never reads
    /// the field): a foreign or hostile value must not make the transport drop the trail, and with it max-hops and cycle
    /// detection for every other hop.
    /// </summary>
    [Fact]
    public async Task ReceivedFromTrail_WithANonBooleanRedelivered_KeepsEveryHop()
    {
        var trail = new List<object?>
        {
            new Dictionary<string, object?> { ["uri"] = "amqp://up/%2f", ["exchange"] = "x", ["redelivered"] = "maybe", ["cluster-name"] = "up", ["vhost"] = "/" },
            new Dictionary<string, object?> { ["uri"] = "nats://further:4222", ["exchange"] = "x", ["redelivered"] = false, ["cluster-name"] = "further", ["vhost"] = "/" },
        };

        var delivered = await RoundTripAsync(new MessageProperties { Headers = new() { [HopHeaders.ReceivedFrom] = trail } });

        Assert.True(delivered.Headers!.TryGetValue(HopHeaders.ReceivedFrom, out var actual), "the trail is missing");
        Assert.True(HeaderValueComparer.Instance.Equals(trail, actual), $"the trail changed on the way: received {actual}");
        Assert.Equal(ForwardVerdict.MaxHopsExceeded, HopRules.Check(delivered.Headers, 2, "elsewhere", "/"));
        Assert.Equal(ForwardVerdict.Cycle, HopRules.Check(delivered.Headers, 3, "up", "/"));
        Assert.Equal(ForwardVerdict.Cycle, HopRules.Check(delivered.Headers, 3, "further", "/"));
    }

    [Fact]
    public async Task BasicProperties_RoundTrip()
    {
        var sent = new MessageProperties
        {
            ContentType = "application/json",
            ContentEncoding = "utf-8",
            Persistent = true,
            Priority = 3,
            CorrelationId = "corr",
            ReplyTo = "reply",
            Expiration = "60000",
            MessageId = "id",
            Timestamp = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero),
            Type = "order.created",
            AppId = "app",
        };

        var delivered = await RoundTripAsync(sent);

        Assert.Equal(
            (sent.ContentType, sent.ContentEncoding, sent.Persistent, sent.Priority, sent.CorrelationId, sent.ReplyTo, sent.Expiration, sent.MessageId, sent.Timestamp, sent.Type, sent.AppId),
            (delivered.ContentType, delivered.ContentEncoding, delivered.Persistent, delivered.Priority, delivered.CorrelationId, delivered.ReplyTo, delivered.Expiration, delivered.MessageId, delivered.Timestamp, delivered.Type, delivered.AppId));
    }

    private async Task<MessageProperties> RoundTripAsync(MessageProperties properties)
    {
        var connection = await OpenAsync();
        var queue = await DeclareQueueAsync(connection);
        var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, Ct);
        var publisher = await OpenPublisherAsync(connection);

        var (exchange, routingKey) = RouteTo(queue);
        await publisher.PublishAsync(exchange, routingKey, properties, new byte[] { 1 }, Ct);

        await Eventually.TrueAsync(() => recorder.Count == 1, Patience);
        return recorder.Deliveries[0].Properties;
    }
}
