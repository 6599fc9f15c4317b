using Federation.Core.Transport;
using Xunit;

namespace Federation.Transport.Contracts;

public abstract partial class TransportContractTests
{
    [Fact]
    public async Task DirectExchange_RoutesOnExactKey()
    {
        var received = await RouteAsync(
            ExchangeSpec.Types.Direct,
            [("orders", null)],
            [("exact", "orders", null), ("other", "orders.eu", null), ("case", "Orders", null)]);

        Assert.Equal(["exact"], received);
    }

    [Fact]
    public async Task FanoutExchange_IgnoresRoutingKeys()
    {
        var received = await RouteAsync(ExchangeSpec.Types.Fanout, [("ignored", null)], [("a", "x", null), ("b", string.Empty, null)]);

        Assert.Equal(["a", "b"], received);
    }

    [Theory]
    [InlineData("a.*.c", "a.b.c", true)]
    [InlineData("a.*.c", "a.c", false)]
    [InlineData("a.*.c", "a..c", true)]
    [InlineData("a.#", "a", true)]
    [InlineData("a.#", "a.b.c", true)]
    [InlineData("#.c", "a.b.c", true)]
    [InlineData("#", "", true)]
    [InlineData("*", "", false)]
    [InlineData("a.#.c", "a.c", true)]
    [InlineData("a.#.c", "a.b.d", false)]
    [InlineData("*.b.#", "a.b", true)]
    [InlineData("a.b", "a.b.c", false)]
    public async Task TopicExchange_MatchesStarAndHash(string pattern, string routingKey, bool routed)
    {
        if (!Has(TransportCapabilities.ArbitraryRoutingKeys) && routingKey.Length > 0 && routingKey.Split('.').Any(word => word.Length == 0))
        {
            await AssertKeyWithEmptyWordIsRefusedAsync(ExchangeSpec.Types.Topic, pattern, routingKey);
            return;
        }

        var received = await RouteAsync(ExchangeSpec.Types.Topic, [(pattern, null)], [("message", routingKey, null)]);

        Assert.Equal(routed ? ["message"] : [], received);
    }

    [Fact]
    public async Task TopicExchange_DeliversOnceWhenSeveralBindingsOfOneQueueMatch()
    {
        var received = await RouteAsync(ExchangeSpec.Types.Topic, [("a.*", null), ("a.b", null), ("#", null)], [("once", "a.b", null)]);

        Assert.Equal(["once"], received);
    }

    [Fact]
    public async Task HeadersExchange_MatchesAllByDefault_AndAnyWhenAsked()
    {
        if (!Has(TransportCapabilities.HeadersExchange))
        {
            await AssertHeadersExchangeIsRefusedAsync();
            return;
        }

        var all = new Dictionary<string, object?> { ["region"] = "eu", ["tier"] = "gold" };
        var any = new Dictionary<string, object?> { ["x-match"] = "any", ["region"] = "us", ["tier"] = "gold" };
        var messages = new (string, string, Dictionary<string, object?>?)[]
        {
            ("both", string.Empty, new() { ["region"] = "eu", ["tier"] = "gold", ["extra"] = 1 }),
            ("region-only", string.Empty, new() { ["region"] = "eu" }),
            ("tier-only", string.Empty, new() { ["tier"] = "gold" }),
            ("none", string.Empty, null),
        };

        Assert.Equal(["both"], await RouteAsync(ExchangeSpec.Types.Headers, [(string.Empty, all)], messages));
        Assert.Equal(["both", "tier-only"], await RouteAsync(ExchangeSpec.Types.Headers, [(string.Empty, any)], messages));
    }

    [Fact]
    public async Task HeadersExchange_IgnoresXArgumentsForMatching()
    {
        if (!Has(TransportCapabilities.HeadersExchange))
        {
            await AssertHeadersExchangeIsRefusedAsync();
            return;
        }

        var arguments = new Dictionary<string, object?> { ["x-match"] = "all", ["region"] = "eu", ["x-bound-from"] = new List<object?> { "upstream" } };

        var received = await RouteAsync(ExchangeSpec.Types.Headers, [(string.Empty, arguments)], [("eu", string.Empty, new() { ["region"] = "eu" })]);

        Assert.Equal(["eu"], received);
    }

    [Fact]
    public async Task Unbind_StopsRouting_AndUnbindingAMissingBindingIsNoOp()
    {
        var connection = await OpenAsync();
        var exchange = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Direct);
        var queue = await DeclareQueueAsync(connection);
        var binding = new BindingSpec(exchange, queue, BindingDestinationKind.Queue, "k");
        await connection.BindAsync(binding, noWait: false, Ct);
        await connection.BindAsync(binding, noWait: false, Ct);
        var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, Ct);
        var publisher = await OpenPublisherAsync(connection);
        await PublishAsync(publisher, exchange, "k", "bound");

        await connection.UnbindAsync(binding, noWait: false, Ct);
        await connection.UnbindAsync(binding, noWait: false, Ct);
        await PublishAsync(publisher, exchange, "k", "unbound");

        Assert.Equal(["bound"], await ReceivedBeforeMarkerAsync(publisher, queue, recorder));
    }

    [Fact]
    public async Task ExchangeToExchangeBinding_RoutesThroughBothExchanges()
    {
        var connection = await OpenAsync();
        var source = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Topic);
        var destination = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Direct);
        var queue = await DeclareQueueAsync(connection);
        await connection.BindAsync(new BindingSpec(source, destination, BindingDestinationKind.Exchange, "orders.#"), noWait: false, Ct);
        await connection.BindAsync(new BindingSpec(destination, queue, BindingDestinationKind.Queue, "orders.eu"), noWait: false, Ct);
        var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, Ct);
        var publisher = await OpenPublisherAsync(connection);

        await PublishAsync(publisher, source, "orders.eu", "both-match");
        await PublishAsync(publisher, source, "orders.us", "second-hop-mismatch");
        await PublishAsync(publisher, source, "invoices.eu", "first-hop-mismatch");

        Assert.Equal(["both-match"], await ReceivedBeforeMarkerAsync(publisher, queue, recorder));
    }

    [Fact]
    public async Task ExchangeToExchangeCycle_TerminatesAndDeliversOncePerQueue()
    {
        var connection = await OpenAsync();
        var first = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Fanout);
        var second = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Fanout);
        var queue = await DeclareQueueAsync(connection);
        await connection.BindAsync(new BindingSpec(first, second, BindingDestinationKind.Exchange, string.Empty), noWait: false, Ct);
        await connection.BindAsync(new BindingSpec(second, first, BindingDestinationKind.Exchange, string.Empty), noWait: false, Ct);
        await connection.BindAsync(new BindingSpec(first, queue, BindingDestinationKind.Queue, string.Empty), noWait: false, Ct);
        await connection.BindAsync(new BindingSpec(second, queue, BindingDestinationKind.Queue, string.Empty), noWait: false, Ct);
        var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, Ct);
        var publisher = await OpenPublisherAsync(connection);

        await PublishAsync(publisher, first, string.Empty, "looping");

        Assert.Equal(["looping"], await ReceivedBeforeMarkerAsync(publisher, queue, recorder));
    }

    /// <summary>Without <see cref="TransportCapabilities.HeadersExchange"/>, a headers exchange cannot be declared, and is not left behind.</summary>
    private async Task AssertHeadersExchangeIsRefusedAsync()
    {
        var connection = await OpenAsync();
        var name = UniqueName("headers");
        DeleteAfterTest(exchange: name);

        await Assert.ThrowsAsync<ExchangeTypeNotSupportedException>(async () =>
            await connection.DeclareExchangeAsync(new ExchangeSpec(name, ExchangeSpec.Types.Headers, Durable: false), Ct));
        Assert.False(await connection.ExchangeExistsAsync(name, Ct));
    }

    /// <summary>
    /// Without <see cref="TransportCapabilities.ArbitraryRoutingKeys"/>, a publish whose key has an empty word fails with
    /// <see cref="ArgumentException"/> naming the key, and nothing reaches the queue.
    /// </summary>
    private async Task AssertKeyWithEmptyWordIsRefusedAsync(string exchangeType, string bindingKey, string routingKey)
    {
        var connection = await OpenAsync();
        var exchange = await DeclareExchangeAsync(connection, exchangeType);
        var queue = await DeclareQueueAsync(connection);
        await connection.BindAsync(new BindingSpec(exchange, queue, BindingDestinationKind.Queue, bindingKey), noWait: false, Ct);
        var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, Ct);
        var publisher = await OpenPublisherAsync(connection);

        var error = await Assert.ThrowsAnyAsync<ArgumentException>(async () => await PublishAsync(publisher, exchange, routingKey, "refused"));
        Assert.Contains(routingKey, error.Message, StringComparison.Ordinal);
        Assert.Empty(await ReceivedBeforeMarkerAsync(publisher, queue, recorder));
    }

    private async Task<IReadOnlyList<string?>> RouteAsync(
        string exchangeType,
        IReadOnlyList<(string BindingKey, Dictionary<string, object?>? Arguments)> bindings,
        IReadOnlyList<(string MessageId, string RoutingKey, Dictionary<string, object?>? Headers)> messages)
    {
        var connection = await OpenAsync();
        var exchange = await DeclareExchangeAsync(connection, exchangeType);
        var queue = await DeclareQueueAsync(connection);
        foreach (var (bindingKey, arguments) in bindings)
        {
            await connection.BindAsync(new BindingSpec(exchange, queue, BindingDestinationKind.Queue, bindingKey, arguments), noWait: false, Ct);
        }

        var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, Ct);
        var publisher = await OpenPublisherAsync(connection);
        foreach (var (messageId, routingKey, headers) in messages)
        {
            await PublishAsync(publisher, exchange, routingKey, messageId, headers);
        }

        return await ReceivedBeforeMarkerAsync(publisher, queue, recorder);
    }
}
