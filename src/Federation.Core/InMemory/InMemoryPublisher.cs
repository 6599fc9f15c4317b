using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>
/// Publishes by routing synchronously, so call order is routing order and a confirm is immediate.
/// The hot path returns a completed <see cref="ValueTask"/> and allocates only the stored message.
/// </summary>
internal sealed class InMemoryPublisher(InMemoryConnection connection, PublisherOptions options) : IMessagePublisher
{
    private volatile bool disposed;

    public ValueTask PublishAsync(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        ArgumentNullException.ThrowIfNull(routingKey);
        ArgumentNullException.ThrowIfNull(properties);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        if (disposed)
        {
            return ValueTask.FromException(new ObjectDisposedException(nameof(IMessagePublisher)));
        }

        if (connection.IsClosed)
        {
            return ValueTask.FromException(connection.CreateClosedException());
        }

        var broker = connection.Broker;
        if (body.Length > broker.MaxMessageSize)
        {
            // As the AMQP transport reports a body over RabbitMQ's max_message_size: refused for good, publisher unharmed.
            return ValueTask.FromException(broker.TooLarge(exchange, routingKey, body.Length, index: 0));
        }

        if (broker.PublishInterceptor is { } interceptor)
        {
            switch (interceptor(new PublishContext(connection.VirtualHost, connection.Name, exchange, routingKey, properties)))
            {
                case PublishOutcome.Nack:
                    return options.Confirms
                        ? ValueTask.FromException(new PublishNackedException($"The broker nacked the message published to exchange '{exchange}' with routing key '{routingKey}'."))
                        : ValueTask.CompletedTask;
                case PublishOutcome.DropConnection:
                    connection.Close(new ConnectionLostException($"Connection '{connection.Name}' to {connection.DisplayUri} was dropped before the publish was confirmed."));
                    return ValueTask.FromException(connection.CreateClosedException());
            }
        }

        try
        {
            connection.Host.Publish(exchange, routingKey, properties, body, connection);
            return ValueTask.CompletedTask;
        }
        catch (TransportException error)
        {
            return ValueTask.FromException(error);
        }
    }

    public ValueTask DisposeAsync()
    {
        disposed = true;
        return ValueTask.CompletedTask;
    }
}
