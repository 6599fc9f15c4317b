using RabbitMQ.Client;

namespace Federation.Amqp;

/// <summary>
/// Finds out whether the connection's user may publish a <c>user_id</c> naming another user (RabbitMQ's <c>impersonator</c>
/// tag), before a publisher or a ledger writes the first message that claims one. Learning it from the broker's refusal of
/// that message instead costs more than the message (see <see cref="AmqpUserIdImpersonation"/>): a publisher without
/// confirms learns nothing from it (its publishes complete once written, so the refused message and whatever it wrote behind
/// it would be lost without a word), and a channel with writes behind the refused message races the broker's close (a write
/// the client lets through after it answered the close makes RabbitMQ close the whole connection). AMQP does not announce a
/// user's tags, and the management API may be out of reach or log in as someone else, so the broker is asked directly.
/// </summary>
/// <remarks>
/// One publish on a confirming channel of its own, to the exchange and routing key of the message about to be written (so
/// that the same write permissions apply), with a <c>user_id</c> no user has and an expiration of <c>-1</c>. RabbitMQ checks
/// the <c>user_id</c> just before the expiration (rabbit_channel: check_user_id_header, then check_expiration_header), and
/// both close the channel before the message is routed: a <c>user_id</c> refusal says the user may not impersonate, an
/// <c>invalid expiration</c> refusal says the <c>user_id</c> passed. Either way nothing is delivered. Nothing else is written
/// on the channel until the broker has answered (the close, or a confirm from a broker that took the message): a write racing
/// the close is what the probe is there to avoid. Anything else (a refused permission, a missing exchange, no answer in
/// time) leaves it unknown. Once per connection: RabbitMQ reads a user's tags when the connection opens. The broker logs the
/// probe's channel error once.
/// </remarks>
internal static class AmqpImpersonationProbe
{
    private const ushort PreconditionFailed = 406;
    private const string InvalidExpiration = "PRECONDITION_FAILED - invalid expiration";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Probes; on a refusal, keeps on the connection that its user may not impersonate (see
    /// <see cref="AmqpConnection.NonImpersonatingUser"/>).
    /// </summary>
    /// <returns>Whether the user may impersonate; null when the probe could not tell.</returns>
    public static async Task<bool?> RunAsync(AmqpConnection connection, string exchange, string routingKey)
    {
        using var timeout = new CancellationTokenSource(Patience);
        IChannel? channel = null;
        try
        {
            // On the connection the messages go out on: RabbitMQ reads the user's tags as a connection opens.
            channel = await connection.CreatePublishChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: false), timeout.Token).ConfigureAwait(false);
            var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            channel.BasicAcksAsync += (_, _) => Answered(answered);
            channel.BasicNacksAsync += (_, _) => Answered(answered);
            channel.ChannelShutdownAsync += (_, _) => Answered(answered);
            var properties = new BasicProperties { UserId = "federation-impersonation-probe-" + Guid.NewGuid().ToString("N"), Expiration = "-1" };
            await channel.BasicPublishAsync(exchange, routingKey, mandatory: false, properties, ReadOnlyMemory<byte>.Empty, timeout.Token).ConfigureAwait(false);

            // Waited for, not asked with a call on the channel (the client may write that call after it has answered the
            // broker's close, and RabbitMQ closes the whole connection over a frame on a channel it closed: 504
            // CHANNEL_ERROR - expected 'channel.open'). A close before the handlers were added is in CloseReason.
            if (channel.IsOpen)
            {
                await answered.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            }
        }
#pragma warning disable CA1031 // The probe's own channel: whatever failed, the close reason (if any) is the answer.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        if (channel is null)
        {
            return null;
        }

        try
        {
            var reason = channel.CloseReason;
            if (reason is null)
            {
                // Confirmed, not closed: the broker took the message, user_id and all (no broker closed over neither). No
                // answer in time leaves it unknown.
                return channel.IsOpen && !timeout.IsCancellationRequested ? true : null;
            }

            if (AmqpUserIdImpersonation.TryReadRefusal(reason, connection.LoginUser, out var user))
            {
                connection.LearnNonImpersonatingUser(user);
                return false;
            }

            return reason.ReplyCode == PreconditionFailed && reason.ReplyText.StartsWith(InvalidExpiration, StringComparison.Ordinal) ? true : null;
        }
        finally
        {
            try
            {
                // Closed by the broker already, unless it confirmed the probe (or did not answer in time).
                await channel.DisposeAsync().ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Closing the probe's channel, closed by the broker already or with the connection.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
    }

    private static Task Answered(TaskCompletionSource answered)
    {
        answered.TrySetResult();
        return Task.CompletedTask;
    }
}
