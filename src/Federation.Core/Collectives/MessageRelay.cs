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
    int maxTargets,
    SubjectGuard guard,
    BrokerMetrics metrics,
    ILogger logger,
    TimeProvider time) : IBrokerRelay
{
    private const string UnknownServer = "-";

    private readonly RelayOutcomes _outcomes = new(cluster, instance, metrics, logger, time);

    private readonly OwnHopCache _requestHop = new(instance);
    private readonly OwnHopCache _replyHop = new(instance);

    /// <summary>A request arrived from the federation.</summary>
    public async ValueTask RelayRequestAsync(SubjectMessage message, ISubjectConnection federation, ISubjectConnection collective, CancellationToken cancellationToken)
    {
        using var measured = _outcomes.Measure(isRequest: true);
        if (Check(message, isRequest: true, out var envelope) is { } rejection)
        {
            _outcomes.Reject(isRequest: true, message.Subject, rejection.ErrorType, rejection.Detail);
            return;
        }

        var headers = new List<KeyValuePair<string, string>>(envelope.OtherHeaders.Count + envelope.SeenBy.Count + 4);
        headers.AddRange(envelope.OtherHeaders);
        headers.Add(new(FederationHeaders.RequestId, envelope.RequestId!));
        headers.Add(new(FederationHeaders.ReplyTo, envelope.ReplyTo!));
        AppendTrail(headers, envelope, _requestHop, federation, collective);
        headers.Add(new(FederationHeaders.Hops, FederatedMessages.FormatHops(envelope.Hops + 1)));

        // Every target gets the same body and headers; only the subject differs. Duplicate targets are sent once (the
        // set is only needed when there is more than one).
        if (envelope.Targets.Count == 1)
        {
            await _outcomes.PublishAsync(collective, new SubjectMessage(envelope.Targets[0], message.Body, headers, subjects.Collective), isRequest: true, cancellationToken).ConfigureAwait(false);
            return;
        }

        var sent = new HashSet<string>(StringComparer.Ordinal);
        foreach (var target in envelope.Targets)
        {
            if (sent.Add(target))
            {
                await _outcomes.PublishAsync(collective, new SubjectMessage(target, message.Body, headers, subjects.Collective), isRequest: true, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A reply arrived from the collective.</summary>
    public async ValueTask RelayReplyAsync(SubjectMessage message, ISubjectConnection federation, ISubjectConnection collective, CancellationToken cancellationToken)
    {
        using var measured = _outcomes.Measure(isRequest: false);
        if (Check(message, isRequest: false, out var envelope) is { } rejection)
        {
            _outcomes.Reject(isRequest: false, message.Subject, rejection.ErrorType, rejection.Detail);
            return;
        }

        // The client sees an ordinary reply: only its own headers and the seen-by trail remain.
        var headers = new List<KeyValuePair<string, string>>(envelope.OtherHeaders.Count + envelope.SeenBy.Count + 1);
        headers.AddRange(envelope.OtherHeaders);
        AppendTrail(headers, envelope, _replyHop, collective, federation);
        await _outcomes.PublishAsync(federation, new SubjectMessage(envelope.ReplyTo!, message.Body, headers), isRequest: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Why the message must be dropped, or null. Both directions need a well-formed envelope, a client reply subject that
    /// passes the guard and a hop count under the limit; requests also need a request id and at most the limit of targets,
    /// each passing the guard.
    /// </summary>
    private (string ErrorType, string Detail)? Check(SubjectMessage message, bool isRequest, out FederationEnvelope envelope)
    {
        if (FederationEnvelope.TryRead(message.Headers, out envelope) is { } malformed)
        {
            return (BrokerErrorTypes.Malformed, malformed);
        }

        // A field no subject transport may send (an AMQP client can write one): dropped here, once, as malformed, rather
        // than failing every publish to its targets.
        if (SubjectHeaderRules.FindViolation(message) is { } badField)
        {
            return (BrokerErrorTypes.Malformed, badField);
        }

        if (isRequest && envelope.RequestId is null)
        {
            return (BrokerErrorTypes.Malformed, $"no {FederationHeaders.RequestId}");
        }

        if (envelope.ReplyTo is null)
        {
            return (BrokerErrorTypes.Malformed, $"no {FederationHeaders.ReplyTo}");
        }

        if (isRequest && envelope.Targets.Count == 0)
        {
            return (BrokerErrorTypes.Malformed, $"no {FederationHeaders.Target}");
        }

        // Before the targets are checked one by one: a flood of them costs nothing more than this count.
        if (isRequest && envelope.Targets.Count > maxTargets)
        {
            return (BrokerErrorTypes.TooManyTargets, $"{envelope.Targets.Count} {FederationHeaders.Target} fields, limit {maxTargets}");
        }

        if (envelope.Hops >= maxHops)
        {
            return (BrokerErrorTypes.HopLimit, $"{envelope.Hops} hop(s), limit {maxHops}");
        }

        // The hop count is one header that anything between two brokers could drop or reset (a member that republishes
        // with headers of its own); the trail grows by one at every broker pass too, and a reply carries its request's.
        // A trail this long has looped, whatever the count says.
        // In long: a MaxHops above int.MaxValue / 2 (a limit set "out of the way") would make an int product negative and drop every message.
        if (envelope.SeenBy.Count >= 2L * maxHops)
        {
            return (BrokerErrorTypes.HopLimit, $"{envelope.SeenBy.Count} {FederationHeaders.SeenBy} entries, limit {2L * maxHops}");
        }

        if (guard.ReplyError(envelope.ReplyTo) is { } replyError)
        {
            return (BrokerErrorTypes.ReplyRejected, replyError);
        }

        foreach (var target in isRequest ? envelope.Targets : [])
        {
            if (guard.TargetError(target) is { } targetError)
            {
                return (BrokerErrorTypes.TargetRejected, targetError);
            }
        }

        return null;
    }

    private static void AppendTrail(List<KeyValuePair<string, string>> headers, FederationEnvelope envelope, OwnHopCache own, ISubjectConnection from, ISubjectConnection to)
    {
        foreach (var hop in envelope.SeenBy)
        {
            headers.Add(new(FederationHeaders.SeenBy, hop));
        }

        headers.Add(new(FederationHeaders.SeenBy, own.Format(from.ConnectedServer ?? UnknownServer, to.ConnectedServer ?? UnknownServer)));
    }

    /// <inheritdoc/>
    public void Stopped() => _outcomes.Stopped();
}
