using System.Collections.Concurrent;
using System.Globalization;
using Federation.Core.Addressing;
using Federation.Core.Transport.Messaging;

namespace Federation.Core.Collectives;

/// <summary>
/// Publishes federated requests on the federation and gathers the replies (Choria's federated client): the targets are
/// chunked (<see cref="FederatedClientOptions.TargetsPerMessage"/>), every chunk goes to every listed federation, and
/// the replies come back on a reply subject unique to the request. One wildcard subscription per client
/// (<c>&lt;prefix&gt;.reply.&lt;client&gt;.*</c>, made on the first request) receives the replies of every request, matched by the
/// subject's last token: a subscription per request cost a SUB, a PING/PONG and an UNSUB on the wire each time.
/// Thread-safe.
/// </summary>
public sealed class FederatedClient : IAsyncDisposable
{
    private readonly ISubjectConnection _federation;
    private readonly FederatedClientOptions _options;
    private readonly TimeProvider _time;
    private readonly string _clientToken = Guid.NewGuid().ToString("N")[..12];
    private readonly ConcurrentDictionary<string, ReplyGatherer> _pending = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _inboxGate = new(1, 1);
    private ISubjectSubscription? _inbox;
    private bool _disposed;
    private long _lateReplies;

    /// <summary>Creates a client on a connection to the federation.</summary>
    /// <param name="federation">The connection to the federation's server.</param>
    /// <param name="options">Options; defaults when null.</param>
    /// <param name="timeProvider">Clock for the reply timeout.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public FederatedClient(ISubjectConnection federation, FederatedClientOptions? options = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(federation);
        _federation = federation;
        _options = options ?? new FederatedClientOptions();
        _time = timeProvider ?? TimeProvider.System;
        if (_options.TargetsPerMessage < 1)
        {
            throw new ArgumentException($"TargetsPerMessage: '{_options.TargetsPerMessage}' must be at least 1.", nameof(options));
        }

        if (!FederationBrokerOptionsValidation.IsSingleToken(_options.ReplySubjectPrefix))
        {
            throw new ArgumentException($"ReplySubjectPrefix: '{_options.ReplySubjectPrefix}' must be one subject token.", nameof(options));
        }

        if (SubjectGrammar.Explain(_options.SubjectPrefix, SubjectUse.Publish, wildcardsMustBeWholeTokens: true) is { } error)
        {
            throw new ArgumentException($"SubjectPrefix: '{_options.SubjectPrefix}' is not a valid subject: {error}.", nameof(options));
        }
    }

    /// <summary>
    /// Sends <paramref name="request"/> and gathers replies until <see cref="FederatedRequest.ExpectedReplies"/> arrived or
    /// <see cref="FederatedRequest.Timeout"/> passed; returns what arrived either way.
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Cancels publishing and waiting (throws <see cref="OperationCanceledException"/>).</param>
    /// <exception cref="ArgumentException">A federation name, a target, a count or a header (one named as an envelope header) is invalid; the message names it.</exception>
    public async Task<FederatedReplies> RequestAsync(FederatedRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        Validate(request);
        await EnsureInboxAsync(cancellationToken).ConfigureAwait(false);
        var requestId = Guid.NewGuid().ToString("N");
        var replySubject = $"{InboxPrefix}{requestId}";
        var gathered = new ReplyGatherer(request.ExpectedReplies, request.MaxReplies, request.MaxReplyBytes, request.Federations.Count);
        _pending[requestId] = gathered;

        // The timeout bounds the waiting, the flush included: a flush waits for a lost connection to come back (a NATS PING
        // needs its PONG), and a request must not outlast its timeout for that. Publishing is not bounded by it, so that a
        // request with a zero timeout is still sent: on NATS a publish hands the message to the connection's buffer; on AMQP
        // it may wait for another request's flush on the same channel, a channel to open, or a connection the broker
        // blocks, which only the caller's token cuts short.
        var deadline = _time.GetUtcNow() + request.Timeout;
        var published = 0;
        try
        {
            var chunks = request.Targets.Chunk(_options.TargetsPerMessage).ToList();
            for (var index = 0; index < request.Federations.Count; index++)
            {
                var subject = FederationBrokerSubjects.For(request.Federations[index], _options.SubjectPrefix).Federation;

                // The brokers answer on the envelope's reply subject; the transport's reply subject is only where the server
                // says that nothing subscribes to the cluster's subject (no broker instance serves it), one per federation so
                // the notice names the cluster. Replies never come there.
                var unservedSubject = $"{replySubject}{UnservedSeparator}{index.ToString(CultureInfo.InvariantCulture)}";
                foreach (var chunk in chunks)
                {
                    await _federation.PublishAsync(new SubjectMessage(subject, request.Body, Envelope(request, requestId, replySubject, chunk), unservedSubject), cancellationToken).ConfigureAwait(false);
                    published++;
                }
            }

            // The flush confirms that the server has the request (a NATS PING/PONG, an AMQP round trip on the publish channel)
            // and surfaces what refused it; replies that come meanwhile are gathered already.
            if (deadline - _time.GetUtcNow() is var flushWithin && flushWithin > TimeSpan.Zero)
            {
                using var flushTimeout = new CancellationTokenSource(flushWithin, _time);
                using var flushing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, flushTimeout.Token);
                try
                {
                    await _federation.FlushAsync(flushing.Token).AsTask().WaitAsync(flushing.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (flushTimeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    // Not confirmed within the timeout: what arrived is all there is, as for a request that timed out waiting.
                }
            }

            var remaining = deadline - _time.GetUtcNow();
            var completed = await gathered.WaitAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, _time, cancellationToken).ConfigureAwait(false);
            var unserved = gathered.UnservedIndexes().Select(index => request.Federations[index]).ToList();
            return new FederatedReplies(requestId, published, gathered.Snapshot(), completed)
            {
                RepliesDropped = gathered.Dropped,
                UnservedFederations = unserved,
                Reason = unserved.Count == 0 ? null : DescribeUnserved(unserved),
            };
        }
        finally
        {
            // Replies that come later are dropped (counted in LateReplies), as they were when each request unsubscribed at the end.
            _pending.TryRemove(requestId, out _);
        }
    }

    /// <summary>
    /// Replies that reached the client's inbox after their request had returned (its timeout passed, its expected replies
    /// had arrived, or it was cancelled), or for a request this client never sent; they are dropped. A count that keeps
    /// growing says that the requests' <see cref="FederatedRequest.Timeout"/> is shorter than the collectives take to answer,
    /// or that <see cref="FederatedRequest.ExpectedReplies"/> is lower than the number of nodes that answer.
    /// </summary>
    public long LateReplies => Interlocked.Read(ref _lateReplies);

    /// <summary>Unsubscribes the client's reply inbox. Requests afterwards throw <see cref="ObjectDisposedException"/>; the connection stays open.</summary>
    public async ValueTask DisposeAsync()
    {
        await _inboxGate.WaitAsync().ConfigureAwait(false);
        try
        {
            _disposed = true;
            if (_inbox is not null)
            {
                await _inbox.DisposeAsync().ConfigureAwait(false);
                _inbox = null;
            }
        }
        finally
        {
            _inboxGate.Release();
        }
    }

    // Request ids are hexadecimal: the separator cannot occur in one.
    private const char UnservedSeparator = '-';

    private string InboxPrefix => $"{_options.ReplySubjectPrefix}.reply.{_clientToken}.";

    private async ValueTask EnsureInboxAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _inbox) is not null)
        {
            return;
        }

        await _inboxGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);

            // The transport promises an active subscription when this returns, so the first request's replies are not missed.
            _inbox ??= await _federation.SubscribeAsync($"{InboxPrefix}*", null, OnReplyAsync, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _inboxGate.Release();
        }
    }

    private ValueTask OnReplyAsync(SubjectMessage reply, CancellationToken cancellationToken)
    {
        var token = reply.Subject[(reply.Subject.LastIndexOf('.') + 1)..];
        if (reply.IsNoResponders)
        {
            // "<request id>-<federation index>": nothing subscribes to that federation's cluster subject.
            var separator = token.LastIndexOf(UnservedSeparator);
            if (separator > 0
                && int.TryParse(token.AsSpan(separator + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index)
                && _pending.TryGetValue(token[..separator], out var unserved))
            {
                unserved.Unserved(index);
            }

            return ValueTask.CompletedTask;
        }

        if (_pending.TryGetValue(token, out var gathered))
        {
            return gathered.AddAsync(reply, cancellationToken);
        }

        Interlocked.Increment(ref _lateReplies);
        return ValueTask.CompletedTask;
    }

    private string DescribeUnserved(List<string> clusters) => string.Join(
        " ",
        clusters.Select(cluster => $"No broker instance serves cluster '{cluster}': nothing subscribes to '{FederationBrokerSubjects.For(cluster, _options.SubjectPrefix).Federation}' on the federation {_federation.DisplayUri}."));

    private List<KeyValuePair<string, string>> Envelope(FederatedRequest request, string requestId, string replySubject, string[] targets)
    {
        var headers = new List<KeyValuePair<string, string>>((request.Headers?.Count ?? 0) + targets.Length + 4);
        headers.AddRange(request.Headers ?? []);
        headers.Add(new(FederationHeaders.RequestId, requestId));
        headers.Add(new(FederationHeaders.ReplyTo, replySubject));
        foreach (var target in targets)
        {
            headers.Add(new(FederationHeaders.Target, target));
        }

        var server = _federation.ConnectedServer ?? "-";
        headers.Add(new(FederationHeaders.SeenBy, new SeenByHop(server, _options.Identity, server).Format()));
        headers.Add(new(FederationHeaders.Hops, FederatedMessages.FormatHops(0)));
        return headers;
    }

    private static void Validate(FederatedRequest request)
    {
        if (request.Federations is null || request.Federations.Count == 0)
        {
            throw new ArgumentException("Federations: at least one broker cluster name is required.", nameof(request));
        }

        foreach (var federation in request.Federations)
        {
            if (federation is null || !FederationBrokerOptionsValidation.IsSingleToken(federation))
            {
                throw new ArgumentException($"Federations: '{federation}' must be one subject token.", nameof(request));
            }
        }

        if (request.Targets is null || request.Targets.Count == 0)
        {
            throw new ArgumentException("Targets: at least one target subject is required.", nameof(request));
        }

        foreach (var target in request.Targets)
        {
            if (SubjectGrammar.Explain(target, SubjectUse.Publish, wildcardsMustBeWholeTokens: true) is { } error)
            {
                throw new ArgumentException($"Targets: '{target}' is not a valid subject: {error}.", nameof(request));
            }
        }

        // The client writes the envelope after the request's own headers: one of them under an envelope name would repeat a
        // field (every broker drops such a request as malformed, and the request waits out its timeout with no error) or
        // forge one (a target, the hop count, a hop of the trail).
        foreach (var header in request.Headers ?? [])
        {
            if (FederationHeaders.IsEnvelopeHeader(header.Key))
            {
                throw new ArgumentException($"Headers: '{header.Key}' is a federation envelope header, which the client writes itself.", nameof(request));
            }
        }

        if (request.ExpectedReplies is < 0)
        {
            throw new ArgumentException($"ExpectedReplies: '{request.ExpectedReplies}' must not be negative.", nameof(request));
        }

        if (request.MaxReplies < 1)
        {
            throw new ArgumentException($"MaxReplies: '{request.MaxReplies}' must be at least 1.", nameof(request));
        }

        if (request.MaxReplyBytes < 1)
        {
            throw new ArgumentException($"MaxReplyBytes: '{request.MaxReplyBytes}' must be at least 1.", nameof(request));
        }

        // Checked before anything is published: a longer wait would throw from the timer only after the request went out.
        if (request.Timeout < TimeSpan.Zero || request.Timeout > FederatedRequest.MaxTimeout)
        {
            throw new ArgumentException($"Timeout: '{request.Timeout}' must be from 0 to {FederatedRequest.MaxTimeout} (the longest a timer waits).", nameof(request));
        }
    }
}
