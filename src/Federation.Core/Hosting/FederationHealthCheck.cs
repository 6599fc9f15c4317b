using Federation.Core.Links;
using Federation.Core.Transport;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Federation.Core.Hosting;

/// <summary>
/// Health from every link's state: unhealthy without a downstream connection, degraded while any link is in error or
/// another instance holds a link's lease as well (<see cref="LinkStatus.AlsoHeldBy"/>), another federation runs the same link
/// (<see cref="LinkStatus.AlsoFederatedBy"/>), another instance runs under this one's name
/// (<see cref="IFederationStatus.InstanceConflict"/>), this instance does not hear its own heartbeats through the downstream
/// (<see cref="IFederationStatus.OwnHeartbeatsUnheard"/>), or while the downstream blocks
/// publishing (<see cref="IFederationStatus.DownstreamBlocked"/>), healthy otherwise. Register it with <c>services.AddHealthChecks().AddCheck&lt;FederationHealthCheck&gt;("federation")</c>.
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
        var twice = links.Where(l => l.AlsoHeldBy is { Count: > 0 }).ToList();
        var doubled = links.Where(l => l.AlsoFederatedBy is { Count: > 0 }).ToList();
        var blocked = status.DownstreamBlocked;
        var unobserved = status.DownstreamTopologyUnobserved;
        var conflict = status.InstanceConflict;
        // A downstream that blocks publishing holds this instance's heartbeats too, so they cannot come back: the block is the
        // cause, and "may be frozen" would send an operator after the wrong one (black-box run, 7 Dec 2026: a memory alarm on
        // RabbitMQ 3.10 read as a frozen connection after 3 s, beside the alarm).
        var unheard = blocked is null ? status.OwnHeartbeatsUnheard : null;
        if (failed.Count == 0 && twice.Count == 0 && doubled.Count == 0 && blocked is null && unobserved is null && conflict is null && unheard is null)
        {
            return Task.FromResult(HealthCheckResult.Healthy($"{links.Count} link(s){DescribeWaiting(links)}, downstream connected as '{status.ClusterName}'.", data));
        }

        var problems = new List<string>(3);
        if (conflict is not null)
        {
            // A configuration mistake rather than a failure: degraded, not unhealthy, since restarting (what an orchestrator does
            // with an unhealthy instance) cannot fix it, and the run that stands aside is a ready standby for the one that acts.
            data["instance_conflict"] = conflict;
            problems.Add(conflict.TrimEnd('.'));
        }

        if (unheard is not null)
        {
            // The connection reads as open and every link it holds as running, yet the downstream carries nothing back.
            data["own_heartbeats_unheard"] = unheard;
            problems.Add($"The downstream connection may be frozen: {unheard}");
        }

        if (blocked is not null)
        {
            // Every link reads as running, yet nothing reaches the downstream; only the upstream queues' growth shows it.
            data["downstream_blocked"] = blocked;
            problems.Add($"The downstream broker blocks publishing ({blocked}): the links forward nothing until its resource alarm clears");
        }

        if (unobserved is not null)
        {
            // Every link reads as running, yet what goes unseen downstream (a NATS server's subscriptions) is not federated.
            data["topology_unobserved"] = unobserved;
            problems.Add($"The downstream's topology cannot be observed ({UriRedaction.RedactText(unobserved)}): nothing is federated for what goes unseen");
        }

        if (failed.Count > 0)
        {
            problems.Add($"{failed.Count} of {links.Count} link(s) in error: {string.Join("; ", failed)}");
        }

        if (twice.Count > 0)
        {
            data["held_twice"] = twice.Count;
            problems.Add(DescribeHeldTwice(twice, links.Count));
        }

        if (doubled.Count > 0)
        {
            data["also_federated"] = doubled.Count;
            problems.Add(DescribeAlsoFederated(doubled, links.Count));
        }

        return Task.FromResult(HealthCheckResult.Degraded(string.Join(". ", problems), data: data));
    }

    // Another federation copies the same messages into the same exchange: the likely cause is a cluster name that differs by mistake.
    private static string DescribeAlsoFederated(List<LinkStatus> doubled, int total) =>
        $"{doubled.Count} of {total} link(s) also run by another federation on this downstream, so every message they carry arrives twice "
        + $"(a different cluster name on one host, or one exchange federated by two federations): {string.Join("; ", doubled.Select(l => $"{l.Exchange} <- {l.Upstream}: also {string.Join(", ", l.AlsoFederatedBy!)}"))}";

    // Two holders of one lease run the link twice; the likely cause is what an operator needs to fix it.
    private static string DescribeHeldTwice(List<LinkStatus> twice, int total) =>
        $"{twice.Count} of {total} link(s) also held by another instance, so each runs twice (different lease-bucket or lease settings, "
        + $"or a different configuration, on the instances): {string.Join("; ", twice.Select(l => $"{l.Exchange} <- {l.Upstream}: also held by '{string.Join("', '", l.AlsoHeldBy!)}'"))}";

    // A link that waits because another instance holds its lease is healthy: it runs, elsewhere.
    private static string DescribeWaiting(IReadOnlyList<LinkStatus> links) =>
        links.Count(l => l.State == LinkState.Waiting) is > 0 and var waiting ? $" ({waiting} run by other instances)" : string.Empty;
}
