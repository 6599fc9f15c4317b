using System.Text.Json.Serialization;
using Federation.Core.Collectives;
using Federation.Core.Transport;

namespace FederationHost.Endpoints;

/// <summary>
/// One federation broker instance as <c>GET /federation/brokers</c> returns it, in the snake_case of the link list. Never
/// contains credentials: URIs and errors are redacted.
/// </summary>
/// <param name="Name">The instance's key in the <c>FederationBrokers</c> section.</param>
/// <param name="Cluster">The broker cluster name clients address.</param>
/// <param name="Instance">This instance's name in its cluster.</param>
/// <param name="State"><c>connected</c> (to both servers), <c>connecting</c> (retrying one of them; <see cref="Error"/> says why) or <c>stopped</c>.</param>
/// <param name="FederationUri">The federation's server, without credentials.</param>
/// <param name="CollectiveUri">The member collective's server, without credentials.</param>
/// <param name="Envelope">The wire format: <c>native</c>, <c>choria-v1</c>, <c>choria-v2</c> or <c>choria</c>.</param>
/// <param name="Workers">Subscriptions per side.</param>
/// <param name="Error">The last connect error while not connected, or null.</param>
/// <param name="ClusterProblem">A misconfiguration the cluster's announcements show (see <see cref="FederationBroker.ClusterProblem"/>), or null.</param>
/// <param name="RequestsReceived">Requests received from the federation since start.</param>
/// <param name="RepliesReceived">Replies received from the collective since start.</param>
/// <param name="Published">Messages published (requests into the collective, replies back to clients).</param>
/// <param name="Errors">Messages dropped as errors (see the <c>federation.broker</c> metrics' error.type for why).</param>
public sealed record BrokerView(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("cluster")] string Cluster,
    [property: JsonPropertyName("instance")] string Instance,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("federation_uri")] string FederationUri,
    [property: JsonPropertyName("collective_uri")] string CollectiveUri,
    [property: JsonPropertyName("envelope")] string Envelope,
    [property: JsonPropertyName("workers")] int Workers,
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("cluster_problem")] string? ClusterProblem,
    [property: JsonPropertyName("requests_received")] long RequestsReceived,
    [property: JsonPropertyName("replies_received")] long RepliesReceived,
    [property: JsonPropertyName("published")] long Published,
    [property: JsonPropertyName("errors")] long Errors)
{
    /// <summary>The state of an instance that connects to both servers.</summary>
    public const string Connected = "connected";

    /// <summary>The state of an instance retrying a server it has not reached or has lost.</summary>
    public const string Connecting = "connecting";

    /// <summary>The state of an instance that is not running (not started yet, or stopped).</summary>
    public const string Stopped = "stopped";

    /// <summary>The view of the instance <paramref name="name"/> configured with <paramref name="options"/>; <paramref name="broker"/> is null while it does not run.</summary>
    public static BrokerView From(string name, FederationBrokerOptions options, FederationBroker? broker)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(options);
        var statistics = broker?.Statistics ?? new FederationBrokerStatistics(0, 0, 0, 0);
        var state = broker is null ? Stopped : broker.IsConnected ? Connected : Connecting;
        var error = broker is { IsConnected: false } ? UriRedaction.RedactText(broker.ConnectError ?? "not connected") : null;
        return new BrokerView(
            name,
            broker?.ClusterName ?? options.ClusterName ?? name,
            broker?.InstanceName ?? options.InstanceName ?? name,
            state,
            UriRedaction.Redact(options.FederationUri ?? ""),
            UriRedaction.Redact(options.CollectiveUri ?? ""),
            EnvelopeName(options.Envelope),
            options.Workers,
            error,
            broker?.ClusterProblem is { } problem ? UriRedaction.RedactText(problem) : null,
            statistics.RequestsReceived,
            statistics.RepliesReceived,
            statistics.Published,
            statistics.Errors);
    }

    /// <summary>The configuration spelling of <paramref name="format"/>, as <c>Envelope</c> takes it.</summary>
    public static string EnvelopeName(FederationEnvelopeFormat format) => format switch
    {
        FederationEnvelopeFormat.Native => "native",
        FederationEnvelopeFormat.ChoriaV1 => "choria-v1",
        FederationEnvelopeFormat.ChoriaV2 => "choria-v2",
        FederationEnvelopeFormat.Choria => "choria",
        _ => format.ToString(),
    };
}
