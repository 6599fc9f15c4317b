using System.Collections.Concurrent;
using Federation.Core.Diagnostics;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// What one link dropped, by reason, for its status; and the once-per-episode log of losses. A loss episode starts with the
/// first lost message (logged at warning with the reason) and ends once the link has gone on forwarding for
/// <see cref="LossEpisode.SettlePeriod"/> after its last loss, or when the link stops (logged once, with how many were
/// lost in it): losses scattered through traffic that otherwise flows are one episode, not a warning each. Drops by the
/// hop rules (<c>max_hops</c>, <c>cycle</c>) are intended and are counted here too, but they are not losses and open no
/// episode. The counts (here and in the metrics) are exact per message whatever the episode.
/// </summary>
internal sealed class LinkDrops
{
    private readonly ConcurrentDictionary<string, long> _byReason = new(StringComparer.Ordinal);
    private readonly string _linkId;
    private readonly ILogger _logger;
    private readonly LossEpisode _episode;

    /// <param name="linkId">The link, for the log.</param>
    /// <param name="logger">Where loss episodes are logged.</param>
    /// <param name="time">The engine's clock, for the episode's settle period.</param>
    public LinkDrops(string linkId, ILogger logger, TimeProvider time)
    {
        _linkId = linkId;
        _logger = logger;
        _episode = new LossEpisode(time, (lost, forwarded) =>
        {
            if (forwarded)
            {
                Log.ForwardingAfterLoss(logger, linkId, lost);
            }
            else
            {
                Log.StoppedInLossEpisode(logger, linkId, lost);
            }
        });
    }

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
            Log.MessagesLost(_logger, _linkId, count, reason, cause is null ? "" : ": " + UriRedaction.RedactText(cause), LossEpisode.SettlePeriod);
            return true;
        }

        return false;
    }

    /// <summary>Called for every forwarded message: lets an open loss episode settle (two volatile reads otherwise).</summary>
    public void Forwarded() => _episode.Forwarded();

    /// <summary>The link stopped: an open loss episode ends and is logged with its count.</summary>
    public void Stopped() => _episode.Stopped();
}
