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
    /// <summary>Maps a library status entry. The library redacts <see cref="LinkStatus.Uri"/> and the error already; redacting again is a safety net.</summary>
    public static LinkView From(LinkStatus status)
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
            status.Error is null ? null : UriRedaction.RedactText(status.Error),
            status.LocalConnection,
            status.Policy,
            status.Since.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
    }

    /// <summary>The lowercase state names rabbitmqctl prints.</summary>
    public static string StateName(LinkState state) => state switch
    {
        LinkState.Starting => "starting",
        LinkState.Running => "running",
        LinkState.Error => "error",
        _ => "shutdown",
    };
}
