using Federation.Core.Transport;
using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// Publishes to one NATS connection in call order, through one reused header object; with confirms, a publish completes
/// once the server provably has the message (see <see cref="NatsPublishConfirmer"/>).
/// </summary>
/// <remarks>
/// <para>The usual path is synchronous: the client serialises the headers and the body into its write buffer before its
/// publish returns, so the next message can reuse the header object.</para>
/// <para>When the client's buffer is full, its publish waits for room. Publishes that arrive meanwhile are not handed to
/// the client, where each would wait on its own semaphore waiter with a timeout timer and two rented buffers (profiling a
/// saturated link showed that to dominate its allocations and lock contention): they queue here in batches, each message
/// with its headers already mapped, and one drain loop hands them to the client in order once it has room. Every message
/// of a batch completes with the batch (written, or confirmed), on one task.</para>
/// <para>Only a lost connection fails the messages of more than one publish. A message that the server might refuse for its
/// size (over <c>max_payload</c>) is put in a batch of its own, so its refusal stays its own.</para>
/// </remarks>
internal sealed class NatsPublisher(NatsBrokerConnection connection, bool confirms) : IMessagePublisher
{
    // Header objects of written backlog messages, kept for the next ones (the backlog is bounded by the caller's window).
    private const int MaxSpareHeaders = 256;

    private readonly NatsHeaders _headers = [];
    private readonly Lock _gate = new();
    private readonly Queue<Batch> _backlog = new();
    private readonly Stack<NatsHeaders> _spareHeaders = new();
    private Batch? _open;
    private bool _draining;
    private Exception? _failure;

    // The exchanges published to (a link publishes to one), to tell which of the server's publish refusals are this
    // publisher's. Read on the client's event task, written under _gate.
    private volatile string[] _exchanges = [];

    public ValueTask PublishAsync(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(properties);
        var subject = NatsSubjectMapping.PublishSubject(exchange, routingKey);
        lock (_gate)
        {
            if (_exchanges is not [var known] || !string.Equals(known, exchange, StringComparison.Ordinal))
            {
                Remember(exchange);
            }

            if (_failure is { } failure)
            {
                return ValueTask.FromException(failure);
            }

            if (_draining)
            {
                return Enqueue(subject, properties, body);
            }

            _headers.Clear();
            NatsMessageMapping.WriteHeaders(properties, _headers);
            var identity = confirms ? connection.Confirmer.Current : default;
            ValueTask sent;
            try
            {
                sent = connection.WriteAsync(subject, _headers.Count == 0 ? null : _headers, body, cancellationToken);
            }
            catch (Exception ex)
            {
                return ValueTask.FromException(connection.ToPublishFailure(ex));
            }

            if (sent.IsCompletedSuccessfully)
            {
                sent.GetAwaiter().GetResult();
                return confirms ? connection.Confirmer.ConfirmOneAsync(identity) : ValueTask.CompletedTask;
            }

            // The client has the message and waits for room: later messages queue here until it is written.
            var head = new Batch(isolated: true);
            _draining = true;
            _ = DrainAsync(sent, head, identity);
            return new ValueTask(head.Completion.Task);
        }
    }

    public ValueTask DisposeAsync()
    {
        connection.Forget(this);
        return ValueTask.CompletedTask;
    }

    /// <summary>Whether <paramref name="subject"/> is one this publisher publishes to (an exchange's subject, or below it).</summary>
    public bool PublishesTo(string subject)
    {
        foreach (var exchange in _exchanges)
        {
            if (subject.StartsWith(exchange, StringComparison.Ordinal) && (subject.Length == exchange.Length || subject[exchange.Length] == '.'))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Adds <paramref name="exchange"/> to the exchanges published to. Call under <c>_gate</c>.</summary>
    private void Remember(string exchange)
    {
        if (!_exchanges.Contains(exchange, StringComparer.Ordinal))
        {
            _exchanges = [.. _exchanges, exchange];
        }
    }

    /// <summary>Queues a message behind the one the client waits with. Call under <c>_gate</c>.</summary>
    private ValueTask Enqueue(string subject, MessageProperties properties, ReadOnlyMemory<byte> body)
    {
        // Mapped now: the caller may change its properties as soon as this call returns.
        var headers = _spareHeaders.TryPop(out var spare) ? spare : [];
        headers.Clear();
        NatsMessageMapping.WriteHeaders(properties, headers);
        var item = new Item(subject, headers.Count == 0 ? null : headers, body);
        if (headers.Count == 0)
        {
            ReturnHeaders(headers);
        }

        var isolated = MayExceedMaxPayload(item.Headers, body.Length, connection.MaxPayload);
        if (isolated || _open is null || _open.Isolated)
        {
            _open = new Batch(isolated);
            _backlog.Enqueue(_open);
        }

        _open.Items.Add(item);
        var task = _open.Completion.Task;
        if (isolated)
        {
            _open = null; // later messages start a batch of their own
        }

        return new ValueTask(task);
    }

    /// <summary>
    /// Waits until the client has written the message it waited with, then hands it the queued batches in order, until
    /// none is left. When the last one was written at once, new publishes take the synchronous path again.
    /// </summary>
    private async Task DrainAsync(ValueTask waiting, Batch head, NatsPublishConfirmer.ConnectionIdentity identity)
    {
        try
        {
            await waiting.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            FailAll(head, connection.ToPublishFailure(ex));
            return;
        }

        var batch = head;
        Exception? refused = null;
        while (true)
        {
            Batch? next;
            lock (_gate)
            {
                if (_backlog.TryDequeue(out next))
                {
                    if (_open == next)
                    {
                        _open = null;
                    }
                }
                else
                {
                    // Everything queued is in the client's buffer: new publishes go to the client directly, after it.
                    _draining = false;
                }
            }

            Complete(batch, refused, identity);
            if (next is null)
            {
                return;
            }

            batch = next;
            refused = null;
            identity = confirms ? connection.Confirmer.Current : default;
            foreach (var item in batch.Items)
            {
                try
                {
                    var sent = connection.WriteAsync(item.Subject, item.Headers, item.Body, CancellationToken.None);
                    if (sent.IsCompletedSuccessfully)
                    {
                        sent.GetAwaiter().GetResult();
                    }
                    else
                    {
                        await sent.ConfigureAwait(false);
                    }
                }
                catch (Exception ex)
                {
                    var failure = connection.ToPublishFailure(ex);
                    if (failure is not PublishNackedException)
                    {
                        FailAll(batch, failure);
                        return;
                    }

                    // The server refuses this message only (its batch is isolated); the others of the batch go on.
                    refused ??= failure;
                }
                finally
                {
                    if (item.Headers is { } written)
                    {
                        lock (_gate)
                        {
                            ReturnHeaders(written);
                        }
                    }
                }
            }
        }
    }

    /// <summary>Completes a written batch: at once without confirms, else when the server confirms it.</summary>
    private void Complete(Batch batch, Exception? refused, NatsPublishConfirmer.ConnectionIdentity identity)
    {
        if (refused is not null)
        {
            batch.Completion.TrySetException(refused);
            return;
        }

        if (!confirms)
        {
            batch.Completion.TrySetResult();
            return;
        }

        var confirmed = connection.Confirmer.ConfirmAsync(identity);
        _ = confirmed.ContinueWith(
            static (task, state) =>
            {
                var completion = ((Batch)state!).Completion;
                if (task.IsCompletedSuccessfully)
                {
                    completion.TrySetResult();
                }
                else
                {
                    completion.TrySetException(task.Exception!.InnerExceptions);
                }
            },
            batch,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>A failed write: this batch and every queued one fail, and so does every later publish.</summary>
    private void FailAll(Batch failed, Exception failure)
    {
        List<Batch> queued;
        lock (_gate)
        {
            _failure = failure;
            _draining = false;
            _open = null;
            queued = [.. _backlog];
            _backlog.Clear();
        }

        failed.Completion.TrySetException(failure);
        foreach (var batch in queued)
        {
            batch.Completion.TrySetException(failure);
        }
    }

    /// <summary>Call under <c>_gate</c>.</summary>
    private void ReturnHeaders(NatsHeaders headers)
    {
        if (!ReferenceEquals(headers, _headers) && _spareHeaders.Count < MaxSpareHeaders)
        {
            _spareHeaders.Push(headers);
        }
    }

    /// <summary>
    /// Whether the message might be over the server's <c>max_payload</c> (which the client checks when it is handed the
    /// message): an upper bound of the header block (<c>NATS/1.0</c>, one <c>key: value</c> line per value, UTF-8, at
    /// most three bytes per character) plus the body.
    /// </summary>
    internal static bool MayExceedMaxPayload(NatsHeaders? headers, int bodyLength, long maxPayload)
    {
        long size = bodyLength;
        if (headers is not null)
        {
            size += 12;
            foreach (var (key, values) in headers)
            {
                foreach (var value in values)
                {
                    size += key.Length + 4 + (3L * (value?.Length ?? 0));
                }
            }
        }

        return size > maxPayload;
    }

    private readonly record struct Item(string Subject, NatsHeaders? Headers, ReadOnlyMemory<byte> Body);

    /// <summary>Messages that complete together; an isolated batch holds one message that the server may refuse.</summary>
    private sealed class Batch(bool isolated)
    {
        public bool Isolated { get; } = isolated;

        public List<Item> Items { get; } = [];

        // Continuations run inline where the batch completes: one hand-off per batch instead of one per message.
        public TaskCompletionSource Completion { get; } = new();
    }
}
