using Federation.Core.Diagnostics;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// The once-per-episode log of messages that the downstream refused (nacked) and that went back to the upstream queue. A
/// full downstream (a JetStream stream at its limits with <c>discard: new</c>, a RabbitMQ queue with <c>reject-publish</c>)
/// nacks every message in flight, session after session, so each one is not worth a warning: the first of an episode is
/// logged at warning with its cause (no stack trace, the cause is the broker's answer), the others at debug, and the
/// episode ends, logged once with its count, once the link has gone on forwarding for <see cref="LossEpisode.SettlePeriod"/>
/// after its last refusal (a queue that takes one message now and then, as its consumer frees room, is one episode), or
/// when the link stops. Shared by every session of a link.
/// </summary>
internal sealed class LinkNacks
{
    private readonly string _linkId;
    private readonly ILogger _logger;
    private readonly LossEpisode _episode;

    /// <param name="linkId">The link, for the log.</param>
    /// <param name="logger">Where refusal episodes are logged.</param>
    /// <param name="time">The engine's clock, for the episode's settle period.</param>
    public LinkNacks(string linkId, ILogger logger, TimeProvider time)
    {
        _linkId = linkId;
        _logger = logger;
        _episode = new LossEpisode(time, (nacked, forwarded) =>
        {
            if (forwarded)
            {
                Log.DownstreamAcceptsAgain(logger, linkId, nacked);
            }
            else
            {
                Log.StoppedInNackEpisode(logger, linkId, nacked);
            }
        });
    }

    /// <summary>Records one nacked message; the first of an episode is logged at warning.</summary>
    public void Nacked(Exception nack)
    {
        if (_episode.Add(1))
        {
            Log.PublishNacked(_logger, _linkId, UriRedaction.RedactText(nack.Message), LossEpisode.SettlePeriod);
        }
        else if (_logger.IsEnabled(LogLevel.Debug))
        {
            // A full stream nacks every message: the redaction only when the line is written.
            Log.PublishNackedAgain(_logger, _linkId, UriRedaction.RedactText(nack.Message));
        }
    }

    /// <summary>
    /// Records a unit of <paramref name="count"/> messages whose commit the downstream failed in part (see
    /// <see cref="UnitPartlyCommittedException"/>): they go back to the upstream queue like nacked ones, in the same episode.
    /// </summary>
    public void PartlyCommitted(int count, string exchange, string upstream, Exception cause)
    {
        if (_episode.Add(count))
        {
            Log.UnitPartlyCommitted(_logger, _linkId, exchange, upstream, count, UriRedaction.RedactText(cause.Message), LossEpisode.SettlePeriod);
        }
        else if (_logger.IsEnabled(LogLevel.Debug))
        {
            Log.UnitPartlyCommittedAgain(_logger, _linkId, count, UriRedaction.RedactText(cause.Message));
        }
    }

    /// <summary>Called for every forwarded message: lets an open episode settle (two volatile reads otherwise).</summary>
    public void Forwarded() => _episode.Forwarded();

    /// <summary>The link stopped: an open episode ends and is logged with its count.</summary>
    public void Stopped() => _episode.Stopped();
}
