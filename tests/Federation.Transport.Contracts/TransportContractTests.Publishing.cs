using System.Text;
using Federation.Core.Transport;
using Xunit;

namespace Federation.Transport.Contracts;

public abstract partial class TransportContractTests
{
    [Fact]
    public async Task PublishWithConfirms_Completes_AndTheMessageArrivesIntact()
    {
        var connection = await OpenAsync();
        var exchange = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Direct);
        var queue = await DeclareQueueAsync(connection);
        await connection.BindAsync(new BindingSpec(exchange, queue, BindingDestinationKind.Queue, "key"), noWait: false, Ct);
        var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(10), ackOnReceipt: true, Ct);
        var publisher = await OpenPublisherAsync(connection);

        await publisher.PublishAsync(exchange, "key", new MessageProperties { MessageId = "m1", ContentType = "text/plain" }, Encoding.UTF8.GetBytes("hello"), Ct);

        await Eventually.TrueAsync(() => recorder.Count == 1, Patience);
        var delivery = recorder.Deliveries[0];
        Assert.Equal(exchange, delivery.Exchange);
        Assert.Equal("key", delivery.RoutingKey);
        Assert.False(delivery.Redelivered);
        Assert.Equal("m1", delivery.Properties.MessageId);
        Assert.Equal("text/plain", delivery.Properties.ContentType);
        Assert.Equal("hello", Encoding.UTF8.GetString(delivery.Body.Span));
    }

    [Fact]
    public async Task Publisher_WithTheLargestConfirmWindow_Opens_AndConfirms()
    {
        // A link's confirm window is its prefetch-count, which may be as large as an int from an upstream that does not bound it.
        var connection = await OpenAsync();
        var queue = await DeclareQueueAsync(connection);
        var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, Ct);
        var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true, MaxOutstandingConfirms: int.MaxValue), Ct);

        var (exchange, routingKey) = RouteTo(queue);
        await PublishAsync(publisher, exchange, routingKey, "m1");

        await Eventually.TrueAsync(() => recorder.Count == 1, Patience);
        Assert.Equal(["m1"], recorder.MessageIds);
    }

    [Fact]
    public async Task PipelinedPublishes_AllConfirm_AndArriveInCallOrder()
    {
        const int Count = 500;
        var connection = await OpenAsync();
        var queue = await DeclareQueueAsync(connection);
        var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, Ct);
        var publisher = await OpenPublisherAsync(connection);

        var confirms = new List<Task>(Count);
        var (exchange, routingKey) = RouteTo(queue);
        for (var i = 0; i < Count; i++)
        {
            confirms.Add(publisher.PublishAsync(exchange, routingKey, new MessageProperties { MessageId = i.ToString(System.Globalization.CultureInfo.InvariantCulture) }, ReadOnlyMemory<byte>.Empty, Ct).AsTask());
        }

        await Task.WhenAll(confirms);
        await Eventually.TrueAsync(() => recorder.Count == Count, Patience);
        Assert.Equal(Enumerable.Range(0, Count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), recorder.MessageIds);
    }

    [Fact]
    public async Task Publish_ToMissingExchange_ThrowsResourceNotFound()
    {
        var connection = await OpenAsync();
        var publisher = await OpenPublisherAsync(connection);
        var missing = UniqueName("missing");

        if (!Has(TransportCapabilities.ServerSideTopology))
        {
            // Every subject namespace exists: the publish is confirmed, and declares nothing.
            await PublishAsync(publisher, missing, "k", "unrouted");
            Assert.False(await connection.ExchangeExistsAsync(missing, Ct));
            return;
        }

        await Assert.ThrowsAsync<ResourceNotFoundException>(async () => await PublishAsync(publisher, missing, "k", "lost"));
    }

    [Fact]
    public async Task Publish_Unroutable_IsStillConfirmed()
    {
        var connection = await OpenAsync();
        var exchange = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Direct);
        var publisher = await OpenPublisherAsync(connection);

        var publish = publisher.PublishAsync(exchange, "nobody-listens", new MessageProperties(), ReadOnlyMemory<byte>.Empty, Ct).AsTask();

        await publish.WaitAsync(Patience, Ct);
        Assert.True(publish.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Publish_ToInternalExchange_IsRefused()
    {
        var connection = await OpenAsync();
        var exchange = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Fanout, isInternal: true);
        var publisher = await OpenPublisherAsync(connection);

        if (!Has(TransportCapabilities.ServerSideTopology))
        {
            // The publish goes to the subject namespace of that name, which the internal (client-side) exchange never reads.
            var queue = await DeclareQueueAsync(connection);
            await connection.BindAsync(new BindingSpec(exchange, queue, BindingDestinationKind.Queue, string.Empty), noWait: false, Ct);
            var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, Ct);
            await PublishAsync(publisher, exchange, string.Empty, "not-routed");
            Assert.Empty(await ReceivedBeforeMarkerAsync(publisher, queue, recorder));
            return;
        }

        var error = await Assert.ThrowsAnyAsync<TransportException>(async () => await PublishAsync(publisher, exchange, string.Empty, "refused"));
        Assert.Contains("access", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Publish_CopiesProperties_SoThePublisherMayReuseThem()
    {
        var connection = await OpenAsync();
        var queue = await DeclareQueueAsync(connection);
        var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, Ct);
        var publisher = await OpenPublisherAsync(connection);
        var trail = new List<object?> { "first" };
        var properties = new MessageProperties { MessageId = "original", Headers = new() { ["note"] = "first" } };
        if (Has(TransportCapabilities.TypedHeaders))
        {
            properties.Headers["trail"] = trail; // a nested value the publisher must copy too
        }

        var (exchange, routingKey) = RouteTo(queue);
        await publisher.PublishAsync(exchange, routingKey, properties, ReadOnlyMemory<byte>.Empty, Ct);
        properties.MessageId = "changed";
        properties.Headers["note"] = "replaced";
        properties.Headers["trail"] = "replaced";
        trail.Add("second");

        await Eventually.TrueAsync(() => recorder.Count == 1, Patience);
        var delivered = recorder.Deliveries[0].Properties;
        Assert.Equal("original", delivered.MessageId);
        Assert.Equal("first", delivered.Headers!["note"]);
        if (Has(TransportCapabilities.TypedHeaders))
        {
            Assert.Equal(new List<object?> { "first" }, delivered.Headers["trail"], HeaderValueComparer.Instance);
        }
        else
        {
            Assert.False(delivered.Headers.ContainsKey("trail"), "a header added after the publish arrived");
        }
    }
}
