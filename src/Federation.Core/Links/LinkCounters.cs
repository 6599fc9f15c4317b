using Federation.Core.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// One link's counts: each goes to the metrics (tagged with the link's exchange and upstream, and the instance that counts them) and, for messages, to the
/// drops its status shows (<see cref="LinkDrops"/>), so that the two never disagree.
/// </summary>
internal sealed class LinkCounters
{
    private readonly FederationTelemetry _telemetry;
    private readonly LinkDrops _drops;
    private readonly LinkNacks _nacks;
    private readonly KeyValuePair<string, object?>[] _tags;

    /// <param name="definition">The link.</param>
    /// <param name="instanceName">The instance that counts.</param>
    /// <param name="telemetry">Where the metrics go.</param>
    /// <param name="logger">Where loss episodes are logged.</param>
    /// <param name="time">The engine's clock, for the settle period that ends an episode.</param>
    /// <param name="drops">The drops of the link this one replaces (same id), to go on counting; null for a new link.</param>
    public LinkCounters(LinkDefinition definition, string instanceName, FederationTelemetry telemetry, ILogger logger, TimeProvider time, LinkDrops? drops = null)
    {
        _telemetry = telemetry;
        _drops = drops ?? new LinkDrops(definition.Id, logger, time);
        _nacks = new LinkNacks(definition.Id, logger, time);
        _tags =
        [
            new("federation.exchange", definition.Exchange.Name),
            new("federation.upstream", definition.Upstream.UpstreamName),
            new("federation.instance", instanceName),
        ];
    }

    /// <summary>Drops by reason since the link was created (or the link it replaced, see <see cref="Drops"/>); null when there were none.</summary>
    public IReadOnlyDictionary<string, long>? DropsByReason => _drops.Snapshot;

    /// <summary>What this link dropped, for the link that replaces it when a reload changes its settings.</summary>
    public LinkDrops Drops => _drops;

    private long _forwarded;

    /// <summary>Messages that reached the downstream since the link was created: whether a run of it made progress.</summary>
    public long ForwardedCount => Interlocked.Read(ref _forwarded);

    /// <summary>Messages that reached the downstream; lets a loss episode and a refusal episode settle (see <see cref="LossEpisode"/>).</summary>
    public void Forwarded(long count)
    {
        Interlocked.Add(ref _forwarded, count);
        _telemetry.MessagesForwarded.Add(count, _tags);
        _drops.Forwarded();
        _nacks.Forwarded();
    }

    /// <summary>A message the downstream refused (nacked) and that went back to the upstream queue; logged once per episode.</summary>
    public void Nacked(Exception nack) => _nacks.Nacked(nack);

    /// <summary>A unit whose commit the downstream failed in part, going back to the upstream queue; logged once per episode (with nacks).</summary>
    public void PartlyCommitted(int count, string exchange, string upstream, Exception cause) => _nacks.PartlyCommitted(count, exchange, upstream, cause);

    /// <summary>A message dropped on purpose (hop rules, duplicate) and acknowledged upstream.</summary>
    public void Dropped(string reason)
    {
        _telemetry.MessagesDropped.Add(1, _tags[0], _tags[1], _tags[2], new("federation.drop.reason", reason));
        _drops.Intended(reason);
    }

    /// <summary>Messages lost on their way (reported by the transport, or refused downstream and not requeueable).</summary>
    /// <returns>Whether this loss opened a loss episode (which is logged once).</returns>
    public bool Lost(string reason, long count, string? cause = null)
    {
        _telemetry.MessagesDropped.Add(count, _tags[0], _tags[1], _tags[2], new("federation.drop.reason", reason));
        return _drops.Lost(reason, count, cause);
    }

    /// <summary>The link stopped (nothing counts here any more): an open loss or refusal episode ends and is logged with its count.</summary>
    public void Stopped()
    {
        _drops.Stopped();
        _nacks.Stopped();
    }

    /// <summary>A binding change mirrored upstream.</summary>
    public void BindingPropagated() => _telemetry.BindingsPropagated.Add(1, _tags);

    /// <summary>The link's run loop started another run.</summary>
    public void Restarted() => _telemetry.LinkRestarts.Add(1, _tags);
}
