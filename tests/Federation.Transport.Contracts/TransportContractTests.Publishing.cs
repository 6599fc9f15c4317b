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
    public async Task PipelinedPublishes_AllConfirm_AndArriveInCallOrder()
    {
        const int Count = 500;
        var connection = await OpenAsync();
        var queue = await DeclareQueueAsync(connection);
        var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, Ct);
        var publisher = await OpenPublisherAsync(connection);

        var confirms = new List<Task>(Count);
        for (var i = 0; i < Count; i++)
        {
            confirms.Add(publisher.PublishAsync(string.Empty, queue, new MessageProperties { MessageId = i.ToString(System.Globalization.CultureInfo.InvariantCulture) }, ReadOnlyMemory<byte>.Empty, Ct).AsTask());
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

        await Assert.ThrowsAsync<ResourceNotFoundException>(async () => await PublishAsync(publisher, UniqueName("missing"), "k", "lost"));
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
        var properties = new MessageProperties { MessageId = "original", Headers = new() { ["trail"] = trail } };

        await publisher.PublishAsync(string.Empty, queue, properties, ReadOnlyMemory<byte>.Empty, Ct);
        properties.MessageId = "changed";
        properties.Headers["trail"] = "replaced";
        trail.Add("second");

        await Eventually.TrueAsync(() => recorder.Count == 1, Patience);
        var delivered = recorder.Deliveries[0].Properties;
        Assert.Equal("original", delivered.MessageId);
        Assert.Equal(new List<object?> { "first" }, delivered.Headers!["trail"], HeaderValueComparer.Instance);
    }
}
