using System.Collections.Concurrent;
using System.Globalization;
using Federation.Core.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Federation.Amqp;

/// <summary>
/// Removes the messages of a queue that RabbitMQ.Client cannot read, which would otherwise stop a link for good.
/// </summary>
/// <remarks>
/// <para>RabbitMQ accepts header values that RabbitMQ.Client 7.2.2 cannot represent, above all an AMQP decimal with a
/// scale above 28 (AMQP allows 255). The client throws while it parses such a delivery, before any consumer sees it, and
/// closes its whole connection with 502. Nothing on that connection can settle the message: it goes back to the head of
/// the queue and is delivered first again after every restart.</para>
/// <para>So a consumer whose connection the client closed that way marks its queue as suspect
/// (<see cref="Suspect"/>), and the next consumer of the queue, before it consumes, looks at the messages at the head
/// with a client of its own that keeps their content headers as bytes (<see cref="AmqpWireConnection"/>): it takes up
/// to one prefetch window of them without acknowledging them (the culprit was in the window the crashed consumer held,
/// and everything that window held went back to the head in its order), rejects without requeue exactly those that
/// <see cref="ClientUnreadableHeader"/> finds unreadable (a dead-letter exchange on the queue keeps them), and closes the
/// channel, which puts every other message back in its place. A message it did not read itself is never removed.</para>
/// </remarks>
internal static class UnreadableMessageRemoval
{
    /// <summary>The drop reason of a message removed because the client cannot read it.</summary>
    public const string DropReason = "unreadable";

    private const ushort SyntaxError = 502;
    private const int BatchSize = 100;
    private const int UnlimitedPrefetchDepth = 10_000;

    // Queues a consumer lost its connection over, by broker and queue: a fact about the broker, so every connection of
    // the process shares it (the next attempt of a link runs on a new connection). Entries go when a scan ran.
    private static readonly ConcurrentDictionary<string, string> Suspects = new(StringComparer.Ordinal);

    /// <summary>A removed message: where it was published, and why the client cannot read it.</summary>
    /// <param name="Exchange">The exchange it was published to.</param>
    /// <param name="RoutingKey">Its routing key.</param>
    /// <param name="Problem">What the client cannot read.</param>
    public sealed record Removed(string Exchange, string RoutingKey, string Problem);

    /// <summary>Whether a shutdown is RabbitMQ.Client closing the connection because it could not parse what the broker sent.</summary>
    public static bool IsClientReadFailure(ShutdownEventArgs? reason) =>
        reason is { Initiator: ShutdownInitiator.Library } && (reason.Exception is SyntaxErrorException || reason.ReplyCode == SyntaxError);

    /// <summary>Marks <paramref name="queue"/> as holding a message the client could not read; <paramref name="clientError"/> is what the client said.</summary>
    public static void Suspect(AmqpEndpoint endpoint, string queue, string clientError) => Suspects[Key(endpoint, queue)] = clientError;

    /// <summary>Takes the mark off <paramref name="queue"/>: returns what the client said, or null when it was not marked.</summary>
    public static string? TakeSuspicion(AmqpEndpoint endpoint, string queue) => Suspects.TryRemove(Key(endpoint, queue), out var error) ? error : null;

    /// <summary>How many messages from the head to look at: the prefetch window the crashed consumer held.</summary>
    public static int Depth(int prefetch) => prefetch > 0 ? prefetch : UnlimitedPrefetchDepth;

    /// <summary>
    /// Looks at up to <paramref name="depth"/> messages from the head of <paramref name="queue"/> and rejects without
    /// requeue those the client cannot read. Returns them; throws <see cref="RemovalFailedException"/> when it could not
    /// finish, also when cancelled (what it rejected before that is in <see cref="RemovalFailedException.Removed"/>).
    /// </summary>
    public static async Task<IReadOnlyList<Removed>> RemoveAsync(AmqpEndpoint endpoint, string connectionName, string queue, int depth, CancellationToken cancellationToken)
    {
        // Bounded: a broker that stops answering must not hold the link's start for longer than a connect could.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(endpoint.ConnectDeadline * 2);
        var removed = new List<Removed>();
        try
        {
            var wire = await AmqpWireConnection.OpenAsync(endpoint, connectionName, deadline.Token).ConfigureAwait(false);
            await using (wire.ConfigureAwait(false))
            {
                for (var taken = 0; taken < depth;)
                {
                    var wanted = Math.Min(BatchSize, depth - taken);
                    var batch = await wire.GetAsync(queue, wanted, deadline.Token).ConfigureAwait(false);
                    foreach (var message in batch)
                    {
                        if (ClientUnreadableHeader.Problem(message.ContentHeader) is { } problem)
                        {
                            await wire.RejectAsync(message.DeliveryTag, deadline.Token).ConfigureAwait(false);
                            removed.Add(new Removed(message.Exchange, message.RoutingKey, problem));
                        }
                    }

                    taken += batch.Count;
                    if (batch.Count < wanted)
                    {
                        break; // the queue ran out
                    }
                }

                // The broker answers the close after the rejects: they are applied, and the rest is back in its place.
                await wire.CloseChannelAsync(deadline.Token).ConfigureAwait(false);
            }

            return removed;
        }
        catch (Exception error)
        {
            // Also when cancelled: what was rejected before must still be counted.
            var why = error is OperationCanceledException ? $"it took longer than {(endpoint.ConnectDeadline * 2).TotalSeconds.ToString(CultureInfo.InvariantCulture)} s" : error.Message;
            // Loggers print inner exceptions: one whose text names a credential stays out.
            throw new RemovalFailedException(AmqpErrors.Scrub(why, endpoint.User, endpoint.Password), removed, AmqpErrors.SafeInner(error, endpoint.User, endpoint.Password));
        }
    }

    /// <summary>The cause logged for a removed message.</summary>
    public static string Cause(Removed removed, string queue) =>
        $"RabbitMQ.Client cannot read a message in queue '{PrintableWireText.Escape(queue)}' (published to '{PrintableWireText.Escape(removed.Exchange)}' " +
        $"with routing key '{PrintableWireText.Escape(removed.RoutingKey)}'): " +
        $"{removed.Problem}; it closed the connection over it (the link restarted), so the message was rejected without requeue " +
        "(a dead-letter exchange on the queue keeps it)";

    /// <summary>What an operator can do when the link cannot remove the message itself.</summary>
    public static string ManualRemoval(AmqpEndpoint endpoint, string queue) =>
        $"to remove it by hand, stop the link and take the head of the queue with the management API: POST /api/queues/{Uri.EscapeDataString(endpoint.VirtualHost)}/{Uri.EscapeDataString(queue)}/get " +
        "with {\"count\":1,\"ackmode\":\"reject_requeue_false\",\"encoding\":\"auto\"} (check that it is the message that holds the field)";

    private static string Key(AmqpEndpoint endpoint, string queue) =>
        string.Create(CultureInfo.InvariantCulture, $"{endpoint.Host}:{endpoint.Port}/{endpoint.VirtualHost}/{queue}");

    /// <summary>The scan could not finish; <see cref="Removed"/> holds what it rejected before.</summary>
    public sealed class RemovalFailedException(string message, IReadOnlyList<Removed> removed, Exception? inner) : TransportException(message, inner)
    {
        /// <summary>The messages rejected before the failure.</summary>
        public IReadOnlyList<Removed> Removed { get; } = removed;
    }
}
