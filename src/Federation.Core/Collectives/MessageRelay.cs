using System.Globalization;
using Federation.Core.Diagnostics;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Collectives;

/// <summary>
/// The stateless transformation at the heart of a federation broker instance. Requests: validate, unpack the targets and
/// publish the identical body to each target in the collective, with the reply subject rewritten to the cluster's
/// collective subject and the client's reply subject kept in the envelope. Replies: validate, strip the envelope except the
/// seen-by trail, publish to the client's reply subject on the federation. Bad messages are counted and logged, never
/// thrown into the connection.
/// </summary>
internal sealed class MessageRelay(
    string cluster,
    string instance,
    FederationBrokerSubjects subjects,
    int maxHops,
    SubjectGuard guard,
    BrokerMetrics metrics,
    ILogger logger,
    TimeProvider time)
{
    private const string UnknownServer = "-";

    /// <summary>A request arrived from the federation.</summary>
    public async ValueTask RelayRequestAsync(SubjectMessage message, ISubjectConnection federation, ISubjectConnection collective, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        metrics.Received(isRequest: true);
        try
        {
            var error = FederationEnvelope.TryRead(message.Headers, out var envelope);
            string? errorType = null;
            if (error is not null)
            {
                errorType = BrokerErrorTypes.Malformed;
            }
            else if (envelope.RequestId is null)
            {
                (errorType, error) = (BrokerErrorTypes.Malformed, $"no {FederationHeaders.RequestId}");
            }
            else if (envelope.ReplyTo is null)
            {
                (errorType, error) = (BrokerErrorTypes.Malformed, $"no {FederationHeaders.ReplyTo}");
            }
            else if (envelope.Targets.Count == 0)
            {
                (errorType, error) = (BrokerErrorTypes.Malformed, $"no {FederationHeaders.Target}");
            }
            else if (envelope.Hops >= maxHops)
            {
                (errorType, error) = (BrokerErrorTypes.HopLimit, $"{envelope.Hops} hop(s), limit {maxHops}");
            }
            else if (guard.ReplyError(envelope.ReplyTo) is { } replyError)
            {
                (errorType, error) = (BrokerErrorTypes.ReplyRejected, replyError);
            }
            else
            {
                foreach (var target in envelope.Targets)
                {
                    if (guard.TargetError(target) is { } targetError)
                    {
                        (errorType, error) = (BrokerErrorTypes.TargetRejected, targetError);
                        break;
                    }
                }
            }

            if (errorType is not null)
            {
                Reject(isRequest: true, message.Subject, errorType, error!);
                return;
            }

            var headers = new List<KeyValuePair<string, string>>(envelope.OtherHeaders.Count + envelope.SeenBy.Count + 4);
            headers.AddRange(envelope.OtherHeaders);
            headers.Add(new(FederationHeaders.RequestId, envelope.RequestId!));
            headers.Add(new(FederationHeaders.ReplyTo, envelope.ReplyTo!));
            AppendTrail(headers, envelope, federation, collective);
            headers.Add(new(FederationHeaders.Hops, (envelope.Hops + 1).ToString(CultureInfo.InvariantCulture)));

            // Every target gets the same body and headers; only the subject differs. Duplicate targets are sent once.
            var sent = new HashSet<string>(StringComparer.Ordinal);
            foreach (var target in envelope.Targets)
            {
                if (sent.Add(target))
                {
                    await PublishAsync(collective, new SubjectMessage(target, message.Body, headers, subjects.Collective), isRequest: true, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            metrics.Processed(isRequest: true, time.GetElapsedTime(started));
        }
    }

    /// <summary>A reply arrived from the collective.</summary>
    public async ValueTask RelayReplyAsync(SubjectMessage message, ISubjectConnection federation, ISubjectConnection collective, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        metrics.Received(isRequest: false);
        try
        {
            var error = FederationEnvelope.TryRead(message.Headers, out var envelope);
            string? errorType = null;
            if (error is not null)
            {
                errorType = BrokerErrorTypes.Malformed;
            }
            else if (envelope.ReplyTo is null)
            {
                (errorType, error) = (BrokerErrorTypes.Malformed, $"no {FederationHeaders.ReplyTo}");
            }
            else if (envelope.Hops >= maxHops)
            {
                (errorType, error) = (BrokerErrorTypes.HopLimit, $"{envelope.Hops} hop(s), limit {maxHops}");
            }
            else if (guard.ReplyError(envelope.ReplyTo) is { } replyError)
            {
                (errorType, error) = (BrokerErrorTypes.ReplyRejected, replyError);
            }

            if (errorType is not null)
            {
                Reject(isRequest: false, message.Subject, errorType, error!);
                return;
            }

            // The client sees an ordinary reply: only its own headers and the seen-by trail remain.
            var headers = new List<KeyValuePair<string, string>>(envelope.OtherHeaders.Count + envelope.SeenBy.Count + 1);
            headers.AddRange(envelope.OtherHeaders);
            AppendTrail(headers, envelope, collective, federation);
            await PublishAsync(federation, new SubjectMessage(envelope.ReplyTo!, message.Body, headers), isRequest: false, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            metrics.Processed(isRequest: false, time.GetElapsedTime(started));
        }
    }

    private void AppendTrail(List<KeyValuePair<string, string>> headers, FederationEnvelope envelope, ISubjectConnection from, ISubjectConnection to)
    {
        foreach (var hop in envelope.SeenBy)
        {
            headers.Add(new(FederationHeaders.SeenBy, hop));
        }

        var own = new SeenByHop(from.ConnectedServer ?? UnknownServer, instance, to.ConnectedServer ?? UnknownServer);
        headers.Add(new(FederationHeaders.SeenBy, own.Format()));
    }

    private async ValueTask PublishAsync(ISubjectConnection connection, SubjectMessage message, bool isRequest, CancellationToken cancellationToken)
    {
        try
        {
            await connection.PublishAsync(message, cancellationToken).ConfigureAwait(false);
            metrics.Published(isRequest);
        }
        catch (Exception error) when (error is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // No retry, as in Choria: the client sees a missing reply before its timeout (at-most-once).
            metrics.Error(isRequest, BrokerErrorTypes.PublishFailed, onOutgoingSide: true);
            CollectiveLog.PublishFailed(logger, error, cluster, instance, Direction(isRequest), message.Subject);
        }
    }

    private void Reject(bool isRequest, string subject, string errorType, string detail)
    {
        metrics.Error(isRequest, errorType, onOutgoingSide: false);
        CollectiveLog.MessageRejected(logger, cluster, instance, Direction(isRequest), subject, errorType, detail);
    }

    private static string Direction(bool isRequest) => isRequest ? BrokerMetrics.Request : BrokerMetrics.Reply;
}
