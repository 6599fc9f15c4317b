using Federation.Core.Transport.Messaging;
using NATS.Client.Core;

namespace Federation.Nats.Messaging;

/// <summary>
/// One <see cref="ISubjectSubscription"/>: a NATS subscription read by one loop that calls the handler for one message at a
/// time. The loop is ours rather than the client's handler mode so that disposal can stop delivery at once (buffered messages
/// are not handed out after dispose), signal the handler's token, wait for the running call, and so that handler failures are
/// logged.
/// </summary>
internal sealed class NatsSubjectSubscription : ISubjectSubscription
{
    // The subscription whose handler is running on this logical call path: disposing it from inside its own handler must not
    // wait for that very handler call to return.
    private static readonly AsyncLocal<NatsSubjectSubscription?> RunningHandler = new();

    private readonly NatsSubjectConnection _owner;
    private readonly INatsSub<byte[]> _nats;
    private readonly SubjectMessageHandler _handler;
    private readonly CancellationTokenSource _stopping = new();
    private Task _loop = Task.CompletedTask;
    private int _disposed;
    private long _handlerErrors;

    public NatsSubjectSubscription(NatsSubjectConnection owner, INatsSub<byte[]> nats, SubjectMessageHandler handler)
    {
        _owner = owner;
        _nats = nats;
        _handler = handler;
    }

    public string Subject => _nats.Subject;

    public string? QueueGroup => _nats.QueueGroup;

    /// <summary>Handler calls that threw.</summary>
    public long HandlerErrors => Interlocked.Read(ref _handlerErrors);

    /// <summary>Messages dropped by the client because this subscription's buffer was full.</summary>
    public void Start() => _loop = Task.Run(RunAsync, CancellationToken.None);

    /// <summary>Signals the handler's token without unsubscribing: the connection is closed for good.</summary>
    public void Abort()
    {
        Volatile.Write(ref _disposed, 1);
        CancelQuietly();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _owner.Forget(this);
            await _nats.DisposeAsync().ConfigureAwait(false);
        }

        CancelQuietly();
        if (!ReferenceEquals(RunningHandler.Value, this))
        {
            await _loop.ConfigureAwait(false);
        }
    }

    private void CancelQuietly()
    {
        try
        {
            _stopping.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // the loop has ended and released the source
        }
    }

    private async Task RunAsync()
    {
        RunningHandler.Value = this;
        var token = _stopping.Token;
        try
        {
            await foreach (var received in _nats.Msgs.ReadAllAsync(token).ConfigureAwait(false))
            {
                if (Volatile.Read(ref _disposed) != 0)
                {
                    break;
                }

                var message = new SubjectMessage(received.Subject, received.Data ?? [], NatsSubjectHeaders.FromNats(received.Headers), received.ReplyTo);
                try
                {
                    await _handler(message, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    break;
                }
#pragma warning disable CA1031 // the SPI promises that a failing handler never ends the subscription
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    Interlocked.Increment(ref _handlerErrors);
                    _owner.HandlerFailed(this, ex);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        finally
        {
            _stopping.Dispose();
        }
    }
}
