using System.Globalization;
using System.Text.Json.Serialization;
using Federation.Core.Links;
using Federation.Core.Transport;

namespace FederationHost.Endpoints;

/// <summary>One link as <c>GET /federation/links</c> returns it, in the snake_case of <c>rabbitmqctl federation_status</c>. Never contains credentials.</summary>
public sealed record LinkView(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("exchange")] string Exchange,
    [property: JsonPropertyName("upstream_exchange")] string UpstreamExchange,
    [property: JsonPropertyName("upstream")] string Upstream,
    [property: JsonPropertyName("vhost")] string VirtualHost,
    [property: JsonPropertyName("uri")] string Uri,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("local_connection")] string? LocalConnection,
    [property: JsonPropertyName("policy")] string? Policy,
    [property: JsonPropertyName("since")] string Since)
{
    /// <summary>The link's lease on the downstream broker (see <see cref="LinkStatus.Lease"/>), or null.</summary>
    [JsonPropertyName("lease")]
    public string? Lease { get; init; }

    /// <summary>Who holds the lease: this host's instance name when it runs the link, the other host's while waiting; null when unknown.</summary>
    [JsonPropertyName("lease_holder")]
    public string? LeaseHolder { get; init; }

    /// <summary>This host's instance name: the instance that reports this entry.</summary>
    [JsonPropertyName("instance")]
    public string? Instance { get; init; }

    /// <summary>The instance that runs the link: this one when it holds the lease, else the holder or the instance placement puts it on.</summary>
    [JsonPropertyName("running_on")]
    public string? RunningOn { get; init; }

    /// <summary>Why the link waits (state <c>waiting</c>), or null.</summary>
    [JsonPropertyName("waiting")]
    public string? Waiting { get; init; }

    /// <summary>
    /// The other instances that say they hold this link's lease too, so that the link runs twice (see
    /// <see cref="LinkStatus.AlsoHeldBy"/>: different lease settings or configurations on the instances); null otherwise.
    /// </summary>
    [JsonPropertyName("also_held_by")]
    public IReadOnlyList<string>? AlsoHeldBy { get; init; }

    /// <summary>
    /// The instances of other federations on this downstream that run a link carrying the same messages into the same
    /// exchange, so that each arrives twice (see <see cref="LinkStatus.AlsoFederatedBy"/>: usually a different cluster
    /// name on one host); null otherwise.
    /// </summary>
    [JsonPropertyName("also_federated_by")]
    public IReadOnlyList<string>? AlsoFederatedBy { get; init; }

    /// <summary>
    /// Messages the link did not forward, by reason (<c>max_hops</c>, <c>cycle</c>, <c>downstream_rejected</c>, ...), since the
    /// host started, also across reloads that change the link's settings (see <see cref="LinkStatus.DroppedMessages"/>); null
    /// when none.
    /// </summary>
    [JsonPropertyName("dropped_messages")]
    public IReadOnlyDictionary<string, long>? DroppedMessages { get; init; }

    /// <summary>
    /// While the host's downstream blocks publishing (a memory or disk alarm, see
    /// <see cref="Federation.Core.IFederationStatus.DownstreamBlocked"/>), the broker's reason: the link reads running but
    /// forwards nothing. Null otherwise.
    /// </summary>
    [JsonPropertyName("downstream_blocked")]
    public string? DownstreamBlocked { get; init; }

    /// <summary>Maps a library status entry. The library redacts <see cref="LinkStatus.Uri"/> and the error already; redacting again is a safety net.</summary>
    /// <param name="status">The link.</param>
    /// <param name="downstreamProblem">
    /// Why the host's downstream is not connected (<see cref="DownLinks.DownstreamProblem"/>), shown as the error of a link
    /// that has none of its own: it cannot forward either, whatever its state says. Null while the downstream is connected.
    /// </param>
    public static LinkView From(LinkStatus status, string? downstreamProblem = null)
    {
        ArgumentNullException.ThrowIfNull(status);
        return new LinkView(
            status.Id,
            status.Exchange,
            status.UpstreamExchange,
            status.Upstream,
            status.VirtualHost,
            UriRedaction.Redact(status.Uri),
            StateName(status.State),
            status.Error is null ? (downstreamProblem is null ? null : UriRedaction.RedactText(downstreamProblem)) : UriRedaction.RedactText(status.Error),
            status.LocalConnection,
            status.Policy,
            status.Since.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture))
        {
            Lease = status.Lease,
            LeaseHolder = status.LeaseHolder,
            Instance = status.Instance,
            RunningOn = status.RunningOn,
            Waiting = status.Waiting,
            AlsoHeldBy = status.AlsoHeldBy,
            AlsoFederatedBy = status.AlsoFederatedBy,
            DroppedMessages = status.DroppedMessages,
        };
    }

    /// <summary>The lowercase state names rabbitmqctl prints.</summary>
    public static string StateName(LinkState state) => state switch
    {
        LinkState.Starting => "starting",
        LinkState.Running => "running",
        LinkState.Error => "error",
        LinkState.Waiting => "waiting",
        _ => "shutdown",
    };
}
