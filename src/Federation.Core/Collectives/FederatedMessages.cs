using System.Globalization;
using Federation.Core.Transport.Messaging;

namespace Federation.Core.Collectives;

/// <summary>Helpers for the members of a collective and for clients: read the federation envelope and answer a federated request.</summary>
public static class FederatedMessages
{
    /// <summary>True when <paramref name="message"/> carries a federation request id.</summary>
    public static bool IsFederated(SubjectMessage message) => GetRequestId(message) is not null;

    /// <summary>The federation request id of <paramref name="message"/>, or null.</summary>
    public static string? GetRequestId(SubjectMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return FederationEnvelope.SingleValue(message, FederationHeaders.RequestId);
    }

    /// <summary>The seen-by trail of <paramref name="message"/>, oldest hop first; unparseable entries are skipped.</summary>
    public static IReadOnlyList<SeenByHop> GetSeenBy(SubjectMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var trail = new List<SeenByHop>();
        foreach (var header in message.Headers ?? [])
        {
            if (string.Equals(header.Key, FederationHeaders.SeenBy, StringComparison.OrdinalIgnoreCase) && SeenByHop.TryParse(header.Value, out var hop))
            {
                trail.Add(hop);
            }
        }

        return trail;
    }

    /// <summary>
    /// Answers <paramref name="request"/> as a member of a collective: publishes <paramref name="body"/> to the request's
    /// reply subject, copying the envelope the broker needs to route the reply back (request id, client reply subject,
    /// seen-by trail, hop count). An unfederated request gets a plain reply with <paramref name="headers"/> only.
    /// </summary>
    /// <param name="connection">The member's connection to its collective.</param>
    /// <param name="request">The request being answered.</param>
    /// <param name="body">The reply payload.</param>
    /// <param name="headers">The reply's own headers, or null.</param>
    /// <param name="cancellationToken">Cancels the publish.</param>
    /// <exception cref="ArgumentException">The request has no reply subject, or <paramref name="headers"/> holds an envelope header (<see cref="FederationHeaders.IsEnvelopeHeader"/>).</exception>
    public static ValueTask ReplyAsync(
        this ISubjectConnection connection,
        SubjectMessage request,
        ReadOnlyMemory<byte> body,
        IReadOnlyList<KeyValuePair<string, string>>? headers,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(request);
        if (request.ReplyTo is null)
        {
            throw new ArgumentException($"The request on '{request.Subject}' has no reply subject to answer.", nameof(request));
        }

        // The envelope is copied from the request after these headers: one of them under an envelope name would repeat a
        // field, and every broker would drop the reply as malformed while the client waits for it. Indexed: once per reply,
        // without boxing an enumerator.
        for (var i = 0; headers is not null && i < headers.Count; i++)
        {
            if (FederationHeaders.IsEnvelopeHeader(headers[i].Key))
            {
                throw new ArgumentException($"The reply's header '{headers[i].Key}' is a federation envelope header, which is copied from the request.", nameof(headers));
            }
        }

        var reply = new List<KeyValuePair<string, string>>(headers ?? []);
        foreach (var header in request.Headers ?? [])
        {
            if (string.Equals(header.Key, FederationHeaders.RequestId, StringComparison.OrdinalIgnoreCase)
                || string.Equals(header.Key, FederationHeaders.ReplyTo, StringComparison.OrdinalIgnoreCase)
                || string.Equals(header.Key, FederationHeaders.SeenBy, StringComparison.OrdinalIgnoreCase)
                || string.Equals(header.Key, FederationHeaders.Hops, StringComparison.OrdinalIgnoreCase))
            {
                reply.Add(header);
            }
        }

        return connection.PublishAsync(new SubjectMessage(request.ReplyTo, body, reply.Count == 0 ? null : reply), cancellationToken);
    }

    internal static string FormatHops(int hops) => (uint)hops < (uint)SmallHops.Length ? SmallHops[hops] : hops.ToString(CultureInfo.InvariantCulture);

    // Hop counts stay small (MaxHops): the strings are made once, not once per message.
    private static readonly string[] SmallHops = [.. Enumerable.Range(0, 16).Select(h => h.ToString(CultureInfo.InvariantCulture))];
}
