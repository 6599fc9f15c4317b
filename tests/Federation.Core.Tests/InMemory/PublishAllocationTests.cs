using Federation.Core.InMemory;
using Federation.Core.Transport;
using Xunit;

namespace Federation.Core.Tests.InMemory;

/// <summary>The broker hosts thousand-broker simulations, so the publish hot path must not allocate beyond the stored message.</summary>
public sealed class PublishAllocationTests
{
    private const int Publishes = 1_000;

    [Theory]
    [InlineData(ExchangeSpec.Types.Direct, "other.key")]
    [InlineData(ExchangeSpec.Types.Topic, "x.y")]
    [InlineData(ExchangeSpec.Types.Headers, "any")]
    public async Task UnroutablePublish_DoesNotAllocate(string exchangeType, string routingKey)
    {
        var broker = new InMemoryBroker("allocation");
        var connection = await broker.ConnectAsync();
        await connection.DeclareExchangeAsync(new ExchangeSpec("x", exchangeType), CancellationToken.None);
        await connection.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);
        await connection.BindAsync(new BindingSpec("x", "q", BindingDestinationKind.Queue, "a.*", new Dictionary<string, object?> { ["h"] = 1 }), noWait: false, CancellationToken.None);
        var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
        var properties = new MessageProperties { Headers = new() { ["h"] = 2 } };
        var body = new byte[16];
        Publish(publisher, routingKey, properties, body);

        var before = GC.GetAllocatedBytesForCurrentThread();
        Publish(publisher, routingKey, properties, body);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(0, broker.GetMessageCount("/", "q"));
    }

    private static void Publish(IMessagePublisher publisher, string routingKey, MessageProperties properties, byte[] body)
    {
        for (var i = 0; i < Publishes; i++)
        {
            var publish = publisher.PublishAsync("x", routingKey, properties, body, CancellationToken.None);
            Assert.True(publish.IsCompletedSuccessfully);
        }
    }
}
