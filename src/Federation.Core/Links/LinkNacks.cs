using Federation.Core.Diagnostics;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// The once-per-episode log of messages that the downstream refused (nacked) and that went back to the upstream queue. A
/// full downstream (a JetStream stream at its limits with <c>discard: new</c>, a RabbitMQ queue with <c>reject-publish</c>)
/// nacks every message in flight, session after session, so each one is not worth a warning: the first of an episode is
/// logged at warning with its cause (no stack trace, the cause is the broker's answer), the others at debug, and the
/// episode ends, logged once with its count, when the link forwards a message again. Shared by every session of a link.
/// </summary>
internal sealed class LinkNacks(string linkId, ILogger logger)
{
    private readonly LossEpisode _episode = new();

    /// <summary>Records one nacked message; the first of an episode is logged at warning.</summary>
    public void Nacked(Exception nack)
    {
        if (_episode.Add(1))
        {
            Log.PublishNacked(logger, linkId, UriRedaction.RedactText(nack.Message));
        }
        else if (logger.IsEnabled(LogLevel.Debug))
        {
            // A full stream nacks every message: the redaction only when the line is written.
            Log.PublishNackedAgain(logger, linkId, UriRedaction.RedactText(nack.Message));
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
            Log.UnitPartlyCommitted(logger, linkId, exchange, upstream, count, UriRedaction.RedactText(cause.Message));
        }
        else if (logger.IsEnabled(LogLevel.Debug))
        {
            Log.UnitPartlyCommittedAgain(logger, linkId, count, UriRedaction.RedactText(cause.Message));
        }
    }

    /// <summary>Called for every forwarded message: closes an open episode (one volatile read otherwise).</summary>
    public void Forwarded()
    {
        if (_episode.Close() is { } nacked)
        {
            Log.DownstreamAcceptsAgain(logger, linkId, nacked);
        }
    }
}
