using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Logging;

namespace Federation.Core.InMemory.Subjects;

/// <summary>
/// An embedded subject-messaging server with core NATS semantics: subjects with <c>*</c> and <c>&gt;</c> wildcards, queue
/// groups (each message goes to one member per group, round-robin), plain subscriptions that get every message, headers
/// and reply subjects passed through, at-most-once delivery (nobody subscribed: the message is gone). Used as the default
/// transport of the Federation of Collectives and as a simulator in tests. Thread-safe.
/// </summary>
public sealed class InMemorySubjectServer
{
    private readonly Lock _gate = new();
    private readonly HashSet<InMemorySubjectConnection> _connections = [];
    private long _queuePick;
    private long _published;
    private long _handlerFailures;
    private bool _stopped;

    /// <summary>Creates a server; register it in an <see cref="InMemorySubjectServerRegistry"/> to make it reachable.</summary>
    /// <param name="name">The server name, the host part of its <c>memory://name</c> URI.</param>
    public InMemorySubjectServer(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        Url = $"{InMemorySubjectTransport.Scheme}://{name}";
    }

    /// <summary>The server name.</summary>
    public string Name { get; }

    /// <summary>The server's URL (<c>memory://name</c>), reported as <see cref="ISubjectConnection.ConnectedServer"/>.</summary>
    public string Url { get; }

    /// <summary>Messages published to this server so far.</summary>
    public long MessagesPublished => Interlocked.Read(ref _published);

    /// <summary>Handler calls that threw; the transport logs and counts them and keeps delivering.</summary>
    public long HandlerFailures => Interlocked.Read(ref _handlerFailures);

    /// <summary>Open connections right now.</summary>
    public int ConnectionCount
    {
        get
        {
            lock (_gate)
            {
                return _connections.Count;
            }
        }
    }

    /// <summary>False after <see cref="Stop"/> until <see cref="Start"/>.</summary>
    public bool IsRunning
    {
        get
        {
            lock (_gate)
            {
                return !_stopped;
            }
        }
    }

    internal SubjectIndex Index { get; } = new();

    /// <summary>
    /// Simulates the server going away: every open connection loses its subscriptions and its
    /// <see cref="ISubjectConnection.Completion"/> faults with a <see cref="ConnectionLostException"/>; new connections are
    /// refused until <see cref="Start"/>.
    /// </summary>
    /// <param name="reason">Why, for the exception message; defaults to "server stopped".</param>
    public void Stop(string? reason = null)
    {
        InMemorySubjectConnection[] connections;
        lock (_gate)
        {
            _stopped = true;
            connections = [.. _connections];
            _connections.Clear();
        }

        foreach (var connection in connections)
        {
            connection.Lose(new ConnectionLostException($"In-memory server '{Name}': {reason ?? "server stopped"}."));
        }
    }

    /// <summary>Accepts connections again after <see cref="Stop"/>.</summary>
    public void Start()
    {
        lock (_gate)
        {
            _stopped = false;
        }
    }

    internal InMemorySubjectConnection Connect(string connectionName, string displayUri, ILogger logger)
    {
        var connection = new InMemorySubjectConnection(this, connectionName, displayUri, logger);
        lock (_gate)
        {
            if (_stopped)
            {
                throw new BrokerUnreachableException($"In-memory server '{Name}' is stopped ({displayUri}).");
            }

            _connections.Add(connection);
        }

        return connection;
    }

    internal void Detach(InMemorySubjectConnection connection)
    {
        lock (_gate)
        {
            _connections.Remove(connection);
        }
    }

    internal void CountHandlerFailure() => Interlocked.Increment(ref _handlerFailures);

    /// <summary>Delivers to every plain match and to one member of each matching queue group.</summary>
    /// <param name="message">The message.</param>
    /// <param name="publisher">The connection that published it: the one told when nothing subscribes.</param>
    internal void Route(SubjectMessage message, InMemorySubjectConnection publisher)
    {
        Interlocked.Increment(ref _published);
        var matches = new List<InMemorySubjectSubscription>(4);
        Index.Match(message.Subject, matches);
        if (matches.Count == 0)
        {
            // As a NATS server does for a client that asks for it: a request nobody can answer is told so on its reply
            // subject at once, instead of waiting out its timeout; only the publisher is told, at its first plain
            // subscription that matches the reply subject (nats-server does not tell a queue subscription).
            if (message.ReplyTo is { } replyTo)
            {
                Index.Match(replyTo, matches);
                matches.Find(s => s.QueueGroup is null && ReferenceEquals(s.Connection, publisher))
                    ?.Deliver(new SubjectMessage(replyTo, Array.Empty<byte>()) { IsNoResponders = true });
            }

            return;
        }

        // Receivers get one shared copy: the publisher may reuse its buffer and header list as soon as PublishAsync returns.
        // An empty header list arrives as null, as on NATS, where a message without header fields has no header block.
        var copy = message with
        {
            Body = message.Body.ToArray(),
            Headers = message.Headers is { Count: > 0 } headers ? headers.ToArray() : null,
            IsNoResponders = false, // only the server sends a notice
        };
        Deliver(copy, matches);
    }

    /// <summary>Delivers <paramref name="copy"/> to every plain subscription of <paramref name="matches"/> and to one member of each queue group.</summary>
    private void Deliver(SubjectMessage copy, List<InMemorySubjectSubscription> matches)
    {
        Dictionary<string, List<InMemorySubjectSubscription>>? groups = null;
        foreach (var subscription in matches)
        {
            if (subscription.QueueGroup is null)
            {
                subscription.Deliver(copy);
            }
            else
            {
                groups ??= new Dictionary<string, List<InMemorySubjectSubscription>>(StringComparer.Ordinal);
                if (!groups.TryGetValue(subscription.QueueGroup, out var members))
                {
                    groups[subscription.QueueGroup] = members = [];
                }

                members.Add(subscription);
            }
        }

        if (groups is null)
        {
            return;
        }

        foreach (var members in groups.Values)
        {
            var start = (int)((ulong)Interlocked.Increment(ref _queuePick) % (ulong)members.Count);
            for (var i = 0; i < members.Count; i++)
            {
                // A member closing right now refuses the message; the next one takes it.
                if (members[(start + i) % members.Count].Deliver(copy))
                {
                    break;
                }
            }
        }
    }
}
