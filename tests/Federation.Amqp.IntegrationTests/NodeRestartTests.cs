using Federation.Core.Transport;

namespace Federation.Amqp.IntegrationTests;

/// <summary>A node of its own, because these tests stop it.</summary>
[CollectionDefinition(Name)]
public sealed class RestartNodeCollection : ICollectionFixture<RabbitMqNodeFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "RabbitMQ restart node";
}

/// <summary>Broker shutdown and restart: the adapter reports the loss and never reconnects by itself; the fixture restarts with its data.</summary>
[Collection(RestartNodeCollection.Name)]
public sealed class NodeRestartTests(RabbitMqNodeFixture fixture)
{
    [Fact]
    public async Task StoppingTheBroker_FaultsCompletionWithConnectionLost_AndAfterRestartANewConnectionSeesDurableState()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var transport = new AmqpTransport();
        var exchange = $"durable.{Guid.NewGuid():N}";
        var connection = await transport.ConnectAsync(new ConnectionRequest(fixture.Node.AmqpUri(), "restart-test"), timeout.Token);
        try
        {
            await connection.DeclareExchangeAsync(new ExchangeSpec(exchange, ExchangeSpec.Types.Topic, Durable: true), timeout.Token);

            await fixture.Node.StopAsync(timeout.Token);

            await Assert.ThrowsAsync<ConnectionLostException>(() => connection.Completion.WaitAsync(TimeSpan.FromSeconds(30), timeout.Token));
            await Assert.ThrowsAsync<ConnectionLostException>(async () => await connection.ExchangeExistsAsync(exchange, timeout.Token));
        }
        finally
        {
            await fixture.Node.StartAsync(timeout.Token);
            await connection.DisposeAsync();
        }

        await using var reconnected = await transport.ConnectAsync(new ConnectionRequest(fixture.Node.AmqpUri(), "restart-test-2"), timeout.Token);
        Assert.True(await reconnected.ExchangeExistsAsync(exchange, timeout.Token));
        Assert.Equal(fixture.Node.ClusterName, reconnected.ClusterName);
        await reconnected.DeleteExchangeAsync(exchange, timeout.Token);
    }
}
