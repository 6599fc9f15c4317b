using Federation.Core.Addressing;
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
        ThrowIfInvalid(subject, SubjectUse.Subscribe, nameof(subject));
        ArgumentNullException.ThrowIfNull(handler);
        if (queueGroup is not null && !SubjectGrammar.IsValidQueueGroup(queueGroup))
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
        ThrowIfInvalid(message.Subject, SubjectUse.Publish, nameof(message));
        if (message.ReplyTo is not null)
        {
            ThrowIfInvalid(message.ReplyTo, SubjectUse.Publish, nameof(message));
        }

        SubjectHeaderRules.Validate(message);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ThrowIfClosed();
        Server.Route(message, this);
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

    // The bus refuses '*' and '>' inside a token, which NATS would take literally: a subject that works here then means the
    // same on every server.
    private static void ThrowIfInvalid(string? subject, SubjectUse use, string paramName)
    {
        if (SubjectGrammar.Explain(subject, use, wildcardsMustBeWholeTokens: true) is { } error)
        {
            throw new ArgumentException($"Invalid subject '{subject}': {error}.", paramName);
        }
    }
}
