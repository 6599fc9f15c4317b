using System.Text.Json.Serialization;

namespace Federation.Core.Links;

// The converter is on the type, so that any serializer options (a minimal API's included) get names without configuring one.
/// <summary>
/// The state of one federation link, as <c>rabbitmqctl federation_status</c> reports it. System.Text.Json writes and reads it
/// by its lower-case name (<c>"running"</c>), the name metrics, health data and <c>rabbitmqctl</c> use, not as a number.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<LinkState>))]
public enum LinkState
{
    /// <summary>Created, connecting or declaring its upstream objects.</summary>
    [JsonStringEnumMemberName("starting")]
    Starting,
    /// <summary>Consuming from the upstream queue and republishing downstream.</summary>
    [JsonStringEnumMemberName("running")]
    Running,
    /// <summary>The last attempt failed; the link retries after <c>reconnect-delay</c>. <see cref="LinkStatus.Error"/> says why.</summary>
    [JsonStringEnumMemberName("error")]
    Error,
    /// <summary>Stopped: by reconfiguration, exchange deletion or host shutdown.</summary>
    [JsonStringEnumMemberName("shutdown")]
    Shutdown,
    /// <summary>
    /// Another engine with the same configuration runs this link: it holds the link's lease on the downstream broker
    /// (<see cref="LinkStatus.Lease"/>, held by <see cref="LinkStatus.LeaseHolder"/>). This link leaves the upstream alone
    /// and polls the lease, and takes the link over when the other engine stops or dies. Not a failure.
    /// </summary>
    [JsonStringEnumMemberName("waiting")]
    Waiting,
}
