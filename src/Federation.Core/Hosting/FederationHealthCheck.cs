using Federation.Core.Links;
using Federation.Core.Transport;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Federation.Core.Hosting;

/// <summary>
/// Health from every link's state: unhealthy without a downstream connection, degraded while any link is in error,
/// healthy otherwise. Register it with <c>services.AddHealthChecks().AddCheck&lt;FederationHealthCheck&gt;("federation")</c>.
/// </summary>
public sealed class FederationHealthCheck(IFederationStatus status) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var links = status.GetLinks();
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var (state, count) in LinkStateNames.CountEach(links))
        {
            data[state] = count;
        }

        var failureStatus = context?.Registration?.FailureStatus ?? HealthStatus.Unhealthy;
        if (!status.IsDownstreamConnected)
        {
            // The cause, when known, is what an operator needs to fix it (refused credentials, no management API, ...).
            var description = status.DownstreamError is { } cause
                ? $"The downstream broker is not connected: {UriRedaction.RedactText(cause)}"
                : "The downstream broker is not connected.";
            return Task.FromResult(new HealthCheckResult(failureStatus, description, data: data));
        }

        var failed = links.Where(l => l.State == LinkState.Error).Select(l => $"{l.Exchange} <- {l.Upstream}: {UriRedaction.RedactText(l.Error ?? string.Empty)}").ToList();
        return Task.FromResult(failed.Count > 0
            ? HealthCheckResult.Degraded($"{failed.Count} of {links.Count} link(s) in error: {string.Join("; ", failed)}", data: data)
            : HealthCheckResult.Healthy($"{links.Count} link(s){DescribeWaiting(links)}, downstream connected as '{status.ClusterName}'.", data));
    }

    // A link that waits because another instance holds its lease is healthy: it runs, elsewhere.
    private static string DescribeWaiting(IReadOnlyList<LinkStatus> links) =>
        links.Count(l => l.State == LinkState.Waiting) is > 0 and var waiting ? $" ({waiting} run by other instances)" : string.Empty;
}
