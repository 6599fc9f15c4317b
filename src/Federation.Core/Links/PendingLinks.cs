using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// The status entries of links the configuration asks for but that do not run because the downstream is not connected:
/// at start against a downstream that cannot be reached, or after a reload that stopped the links to reconnect with new
/// downstream settings. Without them the status would list nothing exactly while every link is down, and an operator
/// asking for the links that are down would be told that none is. They read <see cref="LinkState.Starting"/> (each starts
/// once the downstream connects) with the id the link will have.
/// </summary>
/// <remarks>Set and cleared on the supervisor's loop; <see cref="Statuses"/> may be read from any thread.</remarks>
internal sealed class PendingLinks(string instanceName, TimeProvider time)
{
    private volatile IReadOnlyList<LinkStatus> _statuses = [];

    /// <summary>The pending links' status entries, in no particular order. Any thread.</summary>
    public IReadOnlyList<LinkStatus> Statuses => _statuses;

    /// <summary>Whether a link with <paramref name="id"/> is pending. Any thread.</summary>
    public bool Contains(string id) => _statuses.Any(s => s.Id == id);

    /// <summary>
    /// Shows <paramref name="definitions"/> as pending; an entry already shown keeps its <see cref="LinkStatus.Since"/>, so
    /// that a reload or a retry does not make a link that has waited for the downstream a while look new.
    /// </summary>
    /// <param name="definitions">The links that would run.</param>
    /// <param name="dropsOf">What a link stopped for a reconnect had dropped, by id, so that its counts stay in view; null for none.</param>
    public void Show(IEnumerable<LinkDefinition> definitions, Func<string, LinkDrops?> dropsOf)
    {
        var shown = _statuses.ToDictionary(s => s.Id, s => s.Since, StringComparer.Ordinal);
        var now = time.GetUtcNow();
        _statuses = [.. definitions.Select(d => new LinkStatus(
            d.Id,
            d.Exchange.Name,
            d.UpstreamExchange,
            d.Upstream.UpstreamName,
            d.VirtualHost,
            UriRedaction.Redact(d.Upstream.Uris[0]),
            LinkState.Starting,
            null,
            null,
            d.PolicyName,
            shown.TryGetValue(d.Id, out var since) ? since : now)
        {
            Instance = instanceName,
            DroppedMessages = dropsOf(d.Id)?.Snapshot,
        })];
    }

    /// <summary>Shows none: the downstream is connected, and the links that run report for themselves.</summary>
    public void Clear() => _statuses = [];
}
