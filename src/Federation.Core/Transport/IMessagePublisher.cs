namespace Federation.Core.Transport;

/// <summary>Publishes messages over one channel, in call order.</summary>
public interface IMessagePublisher : IAsyncDisposable
{
    /// <summary>
    /// Publishes one message. Messages reach the broker in the order of the calls, even when the caller starts the next
    /// publish before the previous one completed (pipelining); callers must not call concurrently from several threads.
    /// With confirms the returned task completes when the broker confirms the message and fails with
    /// <see cref="PublishNackedException"/> when it nacks; without confirms it completes once the message was written.
    /// A message the transport can never carry fails with <see cref="MessageTooLargeException"/> without being written; the
    /// publisher stays usable. A limit that a transport learns only when the broker refuses a message (RabbitMQ's
    /// <c>max_message_size</c>, which closes the AMQP channel) fails that message with it too, but the publishes in flight
    /// with it then fail as at a lost channel, and so does the publisher from then on: the caller opens a new one, on
    /// which messages over the learned limit are refused before they are written.
    /// </summary>
    /// <param name="exchange">Target exchange.</param>
    /// <param name="routingKey">Routing key.</param>
    /// <param name="properties">Message properties. The publisher does not keep a reference after the call returns.</param>
    /// <param name="body">Message body. It must stay valid until the returned task completes.</param>
    /// <param name="cancellationToken">Cancels waiting; the message may still be published.</param>
    /// <exception cref="ArgumentException">The transport has no form for <paramref name="routingKey"/> (thrown before
    /// anything is sent). A link takes it as a refusal of this one message, as <see cref="MessageRefusedException"/>.</exception>
    ValueTask PublishAsync(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken);
}
