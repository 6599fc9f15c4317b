using Federation.Core;
using Federation.Core.Collectives;
using Federation.Core.Hosting;
using Federation.Core.Transport;
using FederationHost.Configuration;
using FederationHost.Metrics;
using FederationHost.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace FederationHost.Endpoints;

/// <summary>The HTTP surface: the status page, link status and restart (as rabbitmqctl offers them), health and Prometheus metrics.</summary>
public static class FederationEndpoints
{
    /// <summary>Maps every endpoint on <paramref name="routes"/>.</summary>
    public static IEndpointRouteBuilder MapFederationEndpoints(this IEndpointRouteBuilder routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        routes.MapGet("/", StatusPage.Serve);
        routes.MapGet("/federation/links", GetLinks);
        // A literal segment outranks the {id} parameter below, and link ids are 8 hex digits, so "traffic" never shadows a link.
        routes.MapGet("/federation/links/traffic", GetTraffic);
        routes.MapGet("/federation/links/{id}", GetLink);
        routes.MapPost("/federation/links/{id}/restart", RestartLinkAsync);
        routes.MapGet("/federation/brokers", GetBrokers);
        routes.MapGet("/health", GetHealthAsync);
        // The OpenTelemetry SDK's Prometheus exporter (registered by HostTelemetry) serves the scrape.
        routes.MapPrometheusScrapingEndpoint(HostTelemetry.MetricsPath);
        return routes;
    }

    /// <summary>
    /// <c>GET /federation/links[?only-down=true]</c>. As <c>rabbitmqctl federation_status --only-down</c>, the filter keeps
    /// the links that are down (see <see cref="DownLinks"/>): in error, or every link while the downstream is not connected;
    /// a link that shows no error of its own then shows why the downstream is not. The parameter is exactly <c>true</c> or <c>false</c> (any case), given
    /// once; anything else, and any other query parameter, is a 400 naming it, rather than silently showing every link.
    /// </summary>
    private static IResult GetLinks(IFederationStatus status, HttpRequest request)
    {
        // A misspelt filter (only_down, onlyDown) would otherwise list every link with 200, and a monitor would read
        // running links as down.
        if (request.Query.Keys.FirstOrDefault(key => !string.Equals(key, OnlyDown, StringComparison.OrdinalIgnoreCase)) is { } unknown)
        {
            return Results.BadRequest(new
            {
                parameter = Shorten(unknown),
                error = $"Query parameter '{Shorten(unknown)}' is not understood; the only one is {OnlyDown}=true|false.",
            });
        }

        var onlyDown = false;
        if (request.Query.TryGetValue(OnlyDown, out var values))
        {
            if (values is not [{ } text] || !bool.TryParse(text, out onlyDown) || text.Trim().Length != text.Length)
            {
                var given = values.Count == 1 ? $"'{Shorten(values[0] ?? "")}'" : $"given {values.Count} times";
                return Results.BadRequest(new
                {
                    parameter = OnlyDown,
                    error = $"Query parameter {OnlyDown}: {given}; it must be given once, as true or false.",
                });
            }
        }

        // Read before the links: a link listed because the downstream is down must not be listed without the reason.
        var downstreamProblem = DownLinks.DownstreamProblem(status);
        var blocked = status.DownstreamBlocked;
        var links = status.GetLinks()
            .Where(l => !onlyDown || DownLinks.IsDown(l, downstreamProblem))
            .Select(l => LinkView.From(l, downstreamProblem) with { DownstreamBlocked = blocked })
            .ToList();
        return Results.Ok(links);
    }

    private const string OnlyDown = "only-down";

    private static string Shorten(string value) => value.Length <= 64 ? value : string.Concat(value.AsSpan(0, 64), "...");

    /// <summary><c>GET /federation/links/traffic</c>: forwarded and dropped totals per link, for the status page's rates.</summary>
    private static IResult GetTraffic(MeterAggregator aggregator) => Results.Ok(LinkTraffic.From(aggregator.Collect()));

    /// <summary><c>GET /federation/links/{id}</c>: one link, or 404.</summary>
    private static IResult GetLink(string id, IFederationStatus status) =>
        status.FindLink(id) is { } link ? Results.Ok(LinkView.From(link, DownLinks.DownstreamProblem(status)) with { DownstreamBlocked = status.DownstreamBlocked }) : UnknownLink(id);

    /// <summary><c>POST /federation/links/{id}/restart</c>: 202 once the restart is requested, 404 for an unknown id.</summary>
    private static async Task<IResult> RestartLinkAsync(string id, IFederationStatus status, CancellationToken cancellationToken) =>
        await status.RestartLinkAsync(id, cancellationToken)
            ? Results.Accepted($"/federation/links/{Uri.EscapeDataString(id)}", new { id, restarting = true })
            : UnknownLink(id);

    private static IResult UnknownLink(string id) => Results.NotFound(new { id, error = $"No federation link has the id '{id}'." });

    /// <summary>
    /// <c>GET /federation/brokers</c>: the federation broker instances of the <c>FederationBrokers</c> section in
    /// configuration order, with their state, statistics and cluster problem; an empty list when there is none.
    /// </summary>
    private static IResult GetBrokers(HostFeatures features, FederationBrokerInstances instances, IOptionsMonitor<FederationBrokerOptions> options)
    {
        var running = instances.GetBrokers();
        var brokers = features.BrokerNames.Select(name =>
        {
            // The options are the ones the instance started with: the monitor caches them and nothing reloads them.
            var configured = options.Get(name);
            var broker = running.FirstOrDefault(b => b.ClusterName == configured.ClusterName && b.InstanceName == configured.InstanceName);
            return BrokerView.From(name, configured, broker);
        }).ToList();
        return Results.Ok(brokers);
    }

    /// <summary>
    /// <c>GET /health</c>: the federation health check and, when the host runs broker instances, theirs (see
    /// <see cref="HostHealth"/>); 200 for healthy or degraded, 503 for unhealthy.
    /// </summary>
    private static async Task<IResult> GetHealthAsync(HostHealth health, CancellationToken cancellationToken)
    {
        var result = await health.CheckAsync(cancellationToken);
        var body = new
        {
            status = result.Status.ToString(),
            description = result.Description,
            data = result.Data,
        };
        return Results.Json(body, statusCode: result.Status == HealthStatus.Unhealthy
            ? StatusCodes.Status503ServiceUnavailable
            : StatusCodes.Status200OK);
    }
}
