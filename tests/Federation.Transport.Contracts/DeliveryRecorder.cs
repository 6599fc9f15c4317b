using System.Collections.Concurrent;
using Federation.Core.Transport;

namespace Federation.Transport.Contracts;

/// <summary>A consumer handler that records what it receives, optionally acknowledging each delivery as it arrives.</summary>
public sealed class DeliveryRecorder
{
    private readonly ConcurrentQueue<Delivery> deliveries = new();
    private readonly bool ackOnReceipt;

    // Deliveries may arrive before ConsumeAsync returns the consumer that acks them.
    private readonly TaskCompletionSource<IMessageConsumer> consumer = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private DeliveryRecorder(bool ackOnReceipt) => this.ackOnReceipt = ackOnReceipt;

    /// <summary>Everything received so far, in arrival order.</summary>
    public IReadOnlyList<Delivery> Deliveries => [.. deliveries];

    /// <summary>Number of deliveries received so far.</summary>
    public int Count => deliveries.Count;

    /// <summary>The consumer feeding this recorder.</summary>
    public IMessageConsumer Consumer => consumer.Task.IsCompletedSuccessfully ? consumer.Task.Result : throw new InvalidOperationException("Not started.");

    /// <summary>Starts consuming <paramref name="queue"/> into a new recorder.</summary>
    public static async Task<DeliveryRecorder> StartAsync(IBrokerConnection connection, string queue, ConsumerOptions options, bool ackOnReceipt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var recorder = new DeliveryRecorder(ackOnReceipt && !options.AutoAck);
        recorder.consumer.SetResult(await connection.ConsumeAsync(queue, options, recorder.HandleAsync, cancellationToken));
        return recorder;
    }

    /// <summary>Message ids of the deliveries, in arrival order.</summary>
    public IReadOnlyList<string?> MessageIds => [.. deliveries.Select(d => d.Properties.MessageId)];

    private async ValueTask HandleAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        deliveries.Enqueue(delivery);
        if (ackOnReceipt)
        {
            var started = await consumer.Task;
            await started.AckAsync(delivery.DeliveryTag, multiple: false, cancellationToken);
        }
    }
}
