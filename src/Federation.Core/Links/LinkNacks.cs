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
    private long _inEpisode;
    private int _episodeOpen;

    /// <summary>Records one nacked message; the first of an episode is logged at warning.</summary>
    public void Nacked(Exception nack)
    {
        Interlocked.Increment(ref _inEpisode);
        if (Interlocked.Exchange(ref _episodeOpen, 1) == 0)
        {
            Log.PublishNacked(logger, linkId, UriRedaction.RedactText(nack.Message));
        }
        else if (logger.IsEnabled(LogLevel.Debug))
        {
            // A full stream nacks every message: the redaction only when the line is written.
            Log.PublishNackedAgain(logger, linkId, UriRedaction.RedactText(nack.Message));
        }
    }

    /// <summary>Called for every forwarded message: closes an open episode (one volatile read otherwise).</summary>
    public void Forwarded()
    {
        if (Volatile.Read(ref _episodeOpen) != 0 && Interlocked.Exchange(ref _episodeOpen, 0) != 0)
        {
            Log.DownstreamAcceptsAgain(logger, linkId, Interlocked.Exchange(ref _inEpisode, 0));
        }
    }
}
