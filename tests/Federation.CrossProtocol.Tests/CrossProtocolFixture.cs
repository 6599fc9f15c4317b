using Federation.Testing.Brokers;

namespace Federation.CrossProtocol.Tests;

/// <summary>Two real RabbitMQ nodes and one real nats-server (cluster name <see cref="NatsClusterName"/>), stopped by their own handles.</summary>
public sealed class CrossProtocolFixture : IAsyncLifetime
{
    public const string NatsClusterName = "NATS-X";

    private RabbitMqNode? rabbit1;
    private RabbitMqNode? rabbit2;
    private NatsServerProcess? nats;

    public RabbitMqNode Rabbit1 => rabbit1 ?? throw new InvalidOperationException("Not started.");

    public RabbitMqNode Rabbit2 => rabbit2 ?? throw new InvalidOperationException("Not started.");

    internal NatsServerProcess Nats => nats ?? throw new InvalidOperationException("Not started.");

    public async Task InitializeAsync()
    {
        var first = RabbitMqNode.StartNewAsync();
        var second = RabbitMqNode.StartNewAsync();
        var natsStart = NatsServerProcess.StartAsync("-n", "xproto-nats");
        try
        {
            await Task.WhenAll(first, second, natsStart);
        }
        finally
        {
            rabbit1 = first.IsCompletedSuccessfully ? first.Result : null;
            rabbit2 = second.IsCompletedSuccessfully ? second.Result : null;
            nats = natsStart.IsCompletedSuccessfully ? natsStart.Result : null;
        }
    }

    public async Task DisposeAsync()
    {
        if (nats is not null)
        {
            await nats.DisposeAsync();
        }

        if (rabbit2 is not null)
        {
            await rabbit2.DisposeAsync();
        }

        if (rabbit1 is not null)
        {
            await rabbit1.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class CrossProtocolCollection : ICollectionFixture<CrossProtocolFixture>
{
    public const string Name = "RabbitMQ and NATS nodes";
}
