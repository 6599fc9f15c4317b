using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>
/// A delivery ledger kept in the virtual host (durable, like a durable queue). A unit is published and recorded under the
/// virtual host's lock after every check that could refuse it, so it lands entirely or not at all.
/// </summary>
internal sealed class InMemoryLedger : IDeliveryLedger
{
    private readonly InMemoryConnection connection;
    private readonly LedgerOptions options;
    private int readCount;

    private InMemoryLedger(InMemoryConnection connection, LedgerOptions options)
    {
        this.connection = connection;
        this.options = options;
    }

    public static InMemoryLedger Open(InMemoryConnection connection, LedgerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        BrokerVirtualHost.RejectLongName(options.Name, "ledger queue");
        lock (connection.Host.Sync)
        {
            if (!connection.Host.Ledgers.ContainsKey(options.Name))
            {
                connection.Host.Ledgers[options.Name] = new InMemoryLedgerRecords();
            }
        }

        return new InMemoryLedger(connection, options);
    }

    public ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> ReadAsync(CancellationToken cancellationToken)
    {
        connection.ThrowIfClosed();
        lock (connection.Host.Sync)
        {
            var records = Records();
            readCount = records.Count;
            return ValueTask.FromResult(records.Snapshot());
        }
    }

    public ValueTask CompactAsync(IReadOnlyList<ReadOnlyMemory<byte>> snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        connection.ThrowIfClosed();
        lock (connection.Host.Sync)
        {
            Records().ReplaceOldest(readCount, [.. snapshot.Select(record => record.ToArray())]);
            readCount = 0;
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask PublishAndRecordAsync(IReadOnlyList<LedgerMessage> messages, ReadOnlyMemory<byte> record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (connection.IsClosed)
        {
            return ValueTask.FromException(connection.CreateClosedException());
        }

        var broker = connection.Broker;
        for (var index = 0; index < messages.Count; index++)
        {
            var message = messages[index];
            if (message.Body.Length > broker.MaxMessageSize)
            {
                // Checked before anything of the unit is published, so nothing of it is (as IDeliveryLedger says).
                return ValueTask.FromException(broker.TooLarge(message.Exchange, message.RoutingKey, message.Body.Length, index));
            }

            if (broker.PublishInterceptor is { } interceptor)
            {
                switch (interceptor(new PublishContext(connection.VirtualHost, connection.Name, message.Exchange, message.RoutingKey, message.Properties)))
                {
                    case PublishOutcome.Nack:
                        return ValueTask.FromException(new PublishNackedException($"The broker nacked the message published to exchange '{message.Exchange}' with routing key '{message.RoutingKey}'."));
                    case PublishOutcome.DropConnection:
                        connection.Close(new ConnectionLostException($"Connection '{connection.Name}' to {connection.DisplayUri} was dropped before the unit was committed."));
                        return ValueTask.FromException(connection.CreateClosedException());
                }
            }
        }

        var host = connection.Host;
        try
        {
            lock (host.Sync)
            {
                connection.ThrowIfClosed();
                foreach (var message in messages)
                {
                    if (message.Exchange.Length > 0 && host.GetExchange(message.Exchange) is not { Internal: false })
                    {
                        throw new ResourceNotFoundException($"NOT_FOUND - no exchange '{message.Exchange}' in vhost '{host.Name}' (or it is internal).");
                    }
                }

                foreach (var message in messages)
                {
                    host.Publish(message.Exchange, message.RoutingKey, message.Properties, message.Body, connection);
                }

                // Like RabbitMQ's x-max-length-bytes with drop-head: the oldest records go.
                Records().Append(record.ToArray(), options.MaxBytes);
            }
        }
        catch (TransportException error)
        {
            return ValueTask.FromException(error);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private InMemoryLedgerRecords Records()
    {
        var ledgers = connection.Host.Ledgers;
        if (!ledgers.TryGetValue(options.Name, out var records))
        {
            records = new InMemoryLedgerRecords();
            ledgers[options.Name] = records;
        }

        return records;
    }
}
