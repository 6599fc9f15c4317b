using System.Threading.Channels;
using Federation.Core.Addressing;
using Federation.Core.Diagnostics;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Logging;

namespace Federation.Core.InMemory.Subjects;

/// <summary>
/// One subscription on the in-memory bus: an unbounded inbox drained by one loop, so the handler sees one message at a
/// time. Unsubscribing drops what is still in the inbox, as a NATS UNSUB does (at-most-once).
/// </summary>
internal sealed class InMemorySubjectSubscription : ISubjectSubscription
{
    private static readonly AsyncLocal<InMemorySubjectSubscription?> RunningHandlerOf = new();

    private readonly InMemorySubjectConnection _connection;
    private readonly SubjectMessageHandler _handler;
    private readonly ILogger _logger;
    private readonly Channel<SubjectMessage> _inbox = Channel.CreateUnbounded<SubjectMessage>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _closing = new();
    private readonly Task _loop;
    private int _closed;

    public InMemorySubjectSubscription(InMemorySubjectConnection connection, string subject, string? queueGroup, SubjectMessageHandler handler, ILogger logger)
    {
        _connection = connection;
        Subject = subject;
        QueueGroup = queueGroup;
        _handler = handler;
        _logger = logger;
        HasWildcard = SubjectGrammar.HasWildcard(subject);
        _loop = Task.Run(RunAsync);
    }

    public string Subject { get; }

    /// <summary>The connection that subscribed.</summary>
    internal InMemorySubjectConnection Connection => _connection;

    public string? QueueGroup { get; }

    /// <summary>Whether the subject has wildcard tokens; a literal subject is found by lookup instead of matching.</summary>
    public bool HasWildcard { get; }

    /// <summary>Queues a message for the handler; false once the subscription is closed.</summary>
    public bool Deliver(SubjectMessage message) => _inbox.Writer.TryWrite(message);

    public async ValueTask DisposeAsync()
    {
        Close();
        _connection.Forget(this);
        if (!ReferenceEquals(RunningHandlerOf.Value, this))
        {
            // A handler disposing its own subscription must not wait for itself; its loop ends when the handler returns.
            await _loop.ConfigureAwait(false);
            _closing.Dispose();
        }
    }

    public async ValueTask DrainAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _closed) == 0 && !ReferenceEquals(RunningHandlerOf.Value, this))
        {
            // No new deliveries; the loop handles what the inbox holds and ends when it is empty.
            _connection.Server.Index.Remove(this);
            _inbox.Writer.TryComplete();
            try
            {
                await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Out of time: the rest is dropped by the dispose.
            }
        }

        await DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Stops deliveries without waiting (used when the connection is lost).</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        _connection.Server.Index.Remove(this);
        _inbox.Writer.TryComplete();
        _closing.Cancel();
    }

    private async Task RunAsync()
    {
        var token = _closing.Token;
        RunningHandlerOf.Value = this;
        try
        {
            while (await _inbox.Reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (!token.IsCancellationRequested && _inbox.Reader.TryRead(out var message))
                {
                    try
                    {
                        await _handler(message, token).ConfigureAwait(false);
                    }
                    catch (Exception error) when (!(error is OperationCanceledException && token.IsCancellationRequested))
                    {
                        _connection.Server.CountHandlerFailure();
                        CollectiveLog.SubjectHandlerFailed(_logger, error, Subject, _connection.DisplayUri);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Unsubscribed: what is left in the inbox is dropped.
        }
    }
}
