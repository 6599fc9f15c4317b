using Federation.Core.Transport;

namespace Federation.Nats.JetStream;

/// <summary>One publish waiting for its PubAck (see <see cref="JetStreamPubAckInbox"/>); completes off the client's read loop.</summary>
internal sealed class PendingPubAck(string subject, long writtenAt, string? producerMessageId = null) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
{
    /// <summary>The subject published to, for the messages of failures.</summary>
    public string Subject { get; } = subject;

    /// <summary>
    /// The message's <c>Nats-Msg-Id</c> when it is a producer's own rather than one a link made
    /// (<see cref="JetStreamMessageIdentity.IsLinkBuilt"/>); null otherwise. A duplicate PubAck for it may mean a different
    /// message with a reused id, which is then lost.
    /// </summary>
    public string? ProducerMessageId { get; } = producerMessageId;

    /// <summary>When the publish was registered (a <see cref="TimeProvider"/> timestamp).</summary>
    public long WrittenAt { get; } = writtenAt;

    /// <summary>The number in its reply subject.</summary>
    public long Id { get; set; }

    /// <summary>Completes with what the reply said.</summary>
    public void Settle(JetStreamPubAck reply, string displayUri)
    {
        switch (reply.Kind)
        {
            case JetStreamPubAckKind.Stored:
                TrySetResult();
                break;
            case JetStreamPubAckKind.Refused when reply.ErrorCode == JetStreamErrors.MessageTooLarge:
                // Over the stream's max_msg_size: this message can never be stored there, however often it comes back.
                TrySetException(new MessageRefusedException($"The JetStream stream on {displayUri} refused a message on '{Subject}': {reply.Error}."));
                break;
            case JetStreamPubAckKind.Refused:
                TrySetException(new PublishNackedException($"The JetStream stream on {displayUri} refused a message on '{Subject}': {reply.Error}."));
                break;
            case JetStreamPubAckKind.NoResponders:
                TrySetException(new PublishNackedException($"No JetStream stream on {displayUri} captures the subject '{Subject}'."));
                break;
            default:
                TrySetException(new ConnectionLostException($"Publishing to JetStream on {displayUri} failed (the outcome is unknown): the server sent {reply.Error}."));
                break;
        }
    }
}
