using System.Collections.Concurrent;
using Federation.Core.Diagnostics;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// What one link dropped, by reason, for its status; and the once-per-episode log of losses. A loss episode starts with the
/// first lost message (logged at warning with the reason) and ends when the link forwards a message again (logged once,
/// with how many were lost in between). Drops by the hop rules (<c>max_hops</c>, <c>cycle</c>) are intended and are
/// counted here too, but they are not losses and open no episode.
/// </summary>
internal sealed class LinkDrops(string linkId, ILogger logger)
{
    private readonly ConcurrentDictionary<string, long> _byReason = new(StringComparer.Ordinal);
    private readonly LossEpisode _episode = new();

    /// <summary>Drops by reason since the link was created; null when there were none.</summary>
    public IReadOnlyDictionary<string, long>? Snapshot => _byReason.IsEmpty ? null : new SortedDictionary<string, long>(_byReason, StringComparer.Ordinal);

    /// <summary>Counts drops that the hop rules decided.</summary>
    public void Intended(string reason) => _byReason.AddOrUpdate(reason, 1, static (_, n) => n + 1);

    /// <summary>Counts lost messages; the first loss of an episode is logged, with <paramref name="cause"/> when known.</summary>
    /// <returns>Whether this loss opened an episode (and was logged).</returns>
    public bool Lost(string reason, long count, string? cause = null)
    {
        _byReason.AddOrUpdate(reason, count, (_, n) => n + count);
        if (_episode.Add(count))
        {
            // The cause may quote a client library's text, which may hold a URI: redacted like every other logged text.
            Log.MessagesLost(logger, linkId, count, reason, cause is null ? "" : ": " + UriRedaction.RedactText(cause));
            return true;
        }

        return false;
    }

    /// <summary>Called for every forwarded message: closes an open loss episode (one volatile read otherwise).</summary>
    public void Forwarded()
    {
        if (_episode.Close() is { } lost)
        {
            Log.ForwardingAfterLoss(logger, linkId, lost);
        }
    }
}
