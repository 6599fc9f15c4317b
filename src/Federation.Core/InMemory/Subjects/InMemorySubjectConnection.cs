using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Logging;

namespace Federation.Core.InMemory.Subjects;

/// <summary>A connection to an <see cref="InMemorySubjectServer"/>. Publishing delivers synchronously into the receivers' inboxes.</summary>
internal sealed class InMemorySubjectConnection : ISubjectConnection
{
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly HashSet<InMemorySubjectSubscription> _subscriptions = [];
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _closedBecause;

    public InMemorySubjectConnection(InMemorySubjectServer server, string connectionName, string displayUri, ILogger logger)
    {
        Server = server;
        ConnectionName = connectionName;
        DisplayUri = displayUri;
        _logger = logger;
    }

    public InMemorySubjectServer Server { get; }

    public string ConnectionName { get; }

    public string DisplayUri { get; }

    public string? ConnectedServer => _closedBecause is null ? Server.Url : null;

    public Task Completion => _completion.Task;

    public ValueTask<ISubjectSubscription> SubscribeAsync(string subject, string? queueGroup, SubjectMessageHandler handler, CancellationToken cancellationToken)
    {
        SubjectSyntax.ThrowIfInvalidSubscribe(subject, nameof(subject));
        ArgumentNullException.ThrowIfNull(handler);
        if (queueGroup is not null && (queueGroup.Length == 0 || queueGroup.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            throw new ArgumentException($"Invalid queue group '{queueGroup}': it must be non-empty without whitespace.", nameof(queueGroup));
        }

        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfClosed();
        var subscription = new InMemorySubjectSubscription(this, subject, queueGroup, handler, _logger);
        lock (_gate)
        {
            if (_closedBecause is not null)
            {
                subscription.Close();
                ThrowIfClosed();
            }

            _subscriptions.Add(subscription);
        }

        Server.Index.Add(subscription);
        return ValueTask.FromResult<ISubjectSubscription>(subscription);
    }

    public ValueTask PublishAsync(SubjectMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        SubjectSyntax.ThrowIfInvalidPublish(message.Subject, nameof(message));
        if (message.ReplyTo is not null)
        {
            SubjectSyntax.ThrowIfInvalidPublish(message.ReplyTo, nameof(message));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ThrowIfClosed();
        Server.Route(message);
        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ThrowIfClosed();
        return ValueTask.CompletedTask; // publishing already placed the message in every receiver's inbox
    }

    public async ValueTask DisposeAsync()
    {
        InMemorySubjectSubscription[] subscriptions;
        lock (_gate)
        {
            _closedBecause ??= new ObjectDisposedException(nameof(ISubjectConnection), $"The connection to {DisplayUri} is closed.");
            subscriptions = [.. _subscriptions];
        }

        foreach (var subscription in subscriptions)
        {
            await subscription.DisposeAsync().ConfigureAwait(false);
        }

        Server.Detach(this);
        _completion.TrySetResult();
    }

    /// <summary>The server went away: stop every subscription and fault <see cref="Completion"/>.</summary>
    public void Lose(Exception reason)
    {
        InMemorySubjectSubscription[] subscriptions;
        lock (_gate)
        {
            if (_closedBecause is not null)
            {
                return;
            }

            _closedBecause = reason;
            subscriptions = [.. _subscriptions];
        }

        foreach (var subscription in subscriptions)
        {
            subscription.Close();
        }

        _completion.TrySetException(reason);
    }

    /// <summary>Called by a subscription being disposed.</summary>
    public void Forget(InMemorySubjectSubscription subscription)
    {
        lock (_gate)
        {
            _subscriptions.Remove(subscription);
        }
    }

    private void ThrowIfClosed()
    {
        var reason = _closedBecause;
        if (reason is ObjectDisposedException disposed)
        {
            throw new ObjectDisposedException(disposed.ObjectName, disposed.Message);
        }

        if (reason is not null)
        {
            throw new ConnectionLostException($"The connection to {DisplayUri} was lost: {reason.Message}", reason);
        }
    }
}
