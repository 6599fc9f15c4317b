using Federation.Core.Diagnostics;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Collectives.Choria;

/// <summary>
/// The broker's transformation for Choria's transport JSON, as go-choria's <c>broker/federation</c> does it. Requests: the
/// <c>federation</c> block's targets are unpacked and emptied, the client's reply subject moves into the block, the top-level
/// reply subject becomes the cluster's collective subject, one hop is appended to the trail, and the same bytes go to every
/// target (no transport-level reply subject: Choria routes on the JSON). Replies: the <c>federation</c> block is removed,
/// one hop is appended, and the message goes to the reply subject the block held. The signed <c>data</c> is never opened,
/// so signatures are neither checked nor broken. Bad messages are counted and logged, never thrown.
/// </summary>
internal sealed class ChoriaMessageRelay(
    ChoriaProtocolVersion? accepted,
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

    /// <inheritdoc />
    public async ValueTask RelayRequestAsync(SubjectMessage message, ISubjectConnection federation, ISubjectConnection collective, CancellationToken cancellationToken)
    {
        using var measured = _outcomes.Measure(isRequest: true);
        if (CheckRequest(message, out var transport) is { } rejection)
        {
            _outcomes.Reject(isRequest: true, message.Subject, rejection.ErrorType, rejection.Detail);
            return;
        }

        var block = transport.Federation!;
        var forwarded = transport with
        {
            ReplyTo = subjects.Collective,
            Federation = block with { ReplyTo = transport.ReplyTo, Targets = [] },
            SeenBy = WithHop(transport.SeenBy, federation, collective),
        };
        var body = ChoriaTransportWriter.Write(forwarded);

        // Every target gets the same bytes; only the subject differs. Duplicate targets are sent once.
        var sent = new HashSet<string>(StringComparer.Ordinal);
        foreach (var target in block.Targets)
        {
            if (sent.Add(target))
            {
                await _outcomes.PublishAsync(collective, new SubjectMessage(target, body), isRequest: true, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask RelayReplyAsync(SubjectMessage message, ISubjectConnection federation, ISubjectConnection collective, CancellationToken cancellationToken)
    {
        using var measured = _outcomes.Measure(isRequest: false);
        if (CheckReply(message, out var transport) is { } rejection)
        {
            _outcomes.Reject(isRequest: false, message.Subject, rejection.ErrorType, rejection.Detail);
            return;
        }

        // The client sees an ordinary, unfederated reply (go-choria's SetUnfederated), with the trail.
        var clientReplyTo = transport.Federation!.ReplyTo!;
        var forwarded = transport with { Federation = null, SeenBy = WithHop(transport.SeenBy, collective, federation) };
        await _outcomes.PublishAsync(federation, new SubjectMessage(clientReplyTo, ChoriaTransportWriter.Write(forwarded)), isRequest: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Why a request must be dropped, or null: go-choria's checks (federated, targets, reply-to) plus the subject guard.</summary>
    private (string ErrorType, string Detail)? CheckRequest(SubjectMessage message, out ChoriaTransport transport)
    {
        if (Read(message, out transport) is { } malformed)
        {
            return (BrokerErrorTypes.Malformed, malformed);
        }

        var names = ChoriaWireNames.For(transport.Version);
        if (transport.Federation is not { } block)
        {
            return (BrokerErrorTypes.Malformed, $"{ChoriaWireNames.Header(ChoriaWireNames.FederationField)}: missing, the request is not federated");
        }

        if (RequestIdError(block, names) is { } idError)
        {
            return (BrokerErrorTypes.Malformed, idError);
        }

        if (block.Targets.Count == 0)
        {
            return (BrokerErrorTypes.Malformed, $"{ChoriaWireNames.Federation(names.FederationTargets)}: missing or empty");
        }

        if (transport.ReplyTo is null)
        {
            return (BrokerErrorTypes.Malformed, $"{ChoriaWireNames.Header(names.ReplyTo)}: missing");
        }

        if (block.Targets.Count > maxTargets)
        {
            return (BrokerErrorTypes.TooManyTargets, $"{ChoriaWireNames.Federation(names.FederationTargets)}: {block.Targets.Count} targets, limit {maxTargets}");
        }

        if (TrailError(transport, names) is { } trailError)
        {
            return (BrokerErrorTypes.HopLimit, trailError);
        }

        if (guard.ReplyError(transport.ReplyTo) is { } replyError)
        {
            return (BrokerErrorTypes.ReplyRejected, $"{ChoriaWireNames.Header(names.ReplyTo)}: {replyError}");
        }

        foreach (var target in block.Targets)
        {
            if (guard.TargetError(target) is { } targetError)
            {
                return (BrokerErrorTypes.TargetRejected, $"{ChoriaWireNames.Federation(names.FederationTargets)}: {targetError}");
            }
        }

        return null;
    }

    /// <summary>Why a reply must be dropped, or null: federated, with the client's reply subject, which passes the guard.</summary>
    private (string ErrorType, string Detail)? CheckReply(SubjectMessage message, out ChoriaTransport transport)
    {
        if (Read(message, out transport) is { } malformed)
        {
            return (BrokerErrorTypes.Malformed, malformed);
        }

        var names = ChoriaWireNames.For(transport.Version);
        if (transport.Federation is not { } block)
        {
            return (BrokerErrorTypes.Malformed, $"{ChoriaWireNames.Header(ChoriaWireNames.FederationField)}: missing, the reply is not federated");
        }

        if (RequestIdError(block, names) is { } idError)
        {
            return (BrokerErrorTypes.Malformed, idError);
        }

        if (block.ReplyTo is null)
        {
            return (BrokerErrorTypes.Malformed, $"{ChoriaWireNames.Federation(names.FederationReplyTo)}: missing");
        }

        if (TrailError(transport, names) is { } trailError)
        {
            return (BrokerErrorTypes.HopLimit, trailError);
        }

        if (guard.ReplyError(block.ReplyTo) is { } replyError)
        {
            return (BrokerErrorTypes.ReplyRejected, $"{ChoriaWireNames.Federation(names.FederationReplyTo)}: {replyError}");
        }

        return null;
    }

    private string? Read(SubjectMessage message, out ChoriaTransport transport)
    {
        var error = ChoriaTransportReader.TryRead(message.Body, accepted, out var read);
        transport = read!;
        return error;
    }

    /// <summary>
    /// The request id must be there (go-choria's "federated" test is the block's presence; its schema requires the id) and
    /// stay within the native envelope's bounds. The v1 schema's exact length 32 is not enforced: v2 ids are KSUIDs.
    /// </summary>
    private static string? RequestIdError(ChoriaFederationHeader block, ChoriaWireNames names)
    {
        var path = ChoriaWireNames.Federation(names.FederationRequestId);
        return block.RequestId switch
        {
            null => $"{path}: missing",
            { Length: > FederationEnvelope.MaxRequestIdLength } id => $"{path}: '{id[..64]}...' is longer than {FederationEnvelope.MaxRequestIdLength} characters",
            var id when id.Any(char.IsControl) => $"{path}: must be printable characters",
            _ => null,
        };
    }

    /// <summary>
    /// Choria's JSON has no hop count, but every broker pass appends one hop to the trail; besides those, a request's trail
    /// holds the client's hop, and a reply's the request's trail and the node's hop (go-choria's node copies the request's
    /// trail into its reply). A trail of twice the hop limit has been round a loop, whichever subjects closed it (a broad
    /// target pattern, a server's subject mapping), and would otherwise circle for ever, growing with every pass.
    /// </summary>
    private string? TrailError(ChoriaTransport transport, ChoriaWireNames names)
    {
        var hops = CountedHops(transport.SeenBy);
        return hops >= 2L * maxHops
            ? $"{ChoriaWireNames.Header(names.SeenBy)}: {hops} hop(s){(hops == transport.SeenBy.Count ? "" : $" ({transport.SeenBy.Count} entries)")}, limit {2L * maxHops} (2 x MaxHops)"
            : null;
    }

    /// <summary>
    /// The hops of <paramref name="trail"/> that count towards the hop limit: a hop that repeats the one before it counts
    /// once, unless this broker recorded it. go-choria's connector records its hop each time it publishes a transport, and
    /// a client with <c>CacheBatchedTransports</c> (set with PKCS#11 security) publishes one cached transport for every
    /// batch of a batched request: its 40th batch carries 40 copies of the client's hop, which are no broker passes. A
    /// loop through this broker appends this broker's hops, which always count.
    /// </summary>
    private int CountedHops(IReadOnlyList<SeenByHop> trail)
    {
        var counted = 0;
        for (var i = 0; i < trail.Count; i++)
        {
            if (i == 0 || trail[i] != trail[i - 1] || trail[i].Processor == instance)
            {
                counted++;
            }
        }

        return counted;
    }

    private List<SeenByHop> WithHop(IReadOnlyList<SeenByHop> trail, ISubjectConnection from, ISubjectConnection to) =>
        [.. trail, new SeenByHop(from.ConnectedServer ?? UnknownServer, instance, to.ConnectedServer ?? UnknownServer)];

    /// <inheritdoc/>
    public void Stopped() => _outcomes.Stopped();
}
