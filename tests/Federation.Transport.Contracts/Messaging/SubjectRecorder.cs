using System.Collections.Concurrent;
using System.Text;
using Federation.Core.Transport.Messaging;

namespace Federation.Transport.Contracts.Messaging;

/// <summary>A subscription handler that keeps a copy of every message it gets (the transport may reuse the body afterwards).</summary>
public sealed class SubjectRecorder
{
    private readonly ConcurrentQueue<SubjectMessage> messages = new();

    /// <summary>The subscription feeding this recorder.</summary>
    public ISubjectSubscription Subscription { get; private set; } = null!;

    /// <summary>Everything received so far, in arrival order.</summary>
    public IReadOnlyList<SubjectMessage> Messages => [.. messages];

    /// <summary>Number of messages received so far.</summary>
    public int Count => messages.Count;

    /// <summary>The bodies received so far as UTF-8 text, in arrival order.</summary>
    public IReadOnlyList<string> Bodies => [.. messages.Select(m => Encoding.UTF8.GetString(m.Body.Span))];

    /// <summary>Subscribes a new recorder.</summary>
    public static async Task<SubjectRecorder> StartAsync(ISubjectConnection connection, string subject, string? queueGroup, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var recorder = new SubjectRecorder();
        recorder.Subscription = await connection.SubscribeAsync(subject, queueGroup, recorder.HandleAsync, cancellationToken);
        return recorder;
    }

    private ValueTask HandleAsync(SubjectMessage message, CancellationToken cancellationToken)
    {
        messages.Enqueue(message with { Body = message.Body.ToArray() });
        return ValueTask.CompletedTask;
    }
}
