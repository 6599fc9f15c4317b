using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Federation.Core.Hosting;

/// <summary>
/// Health of the federation broker instances of the host: degraded while any instance is not connected to both of its
/// servers (a server unreachable at start, or lost later: the instance retries on its own), or while every instance is
/// connected but one reports a <see cref="Collectives.FederationBroker.ClusterProblem"/> (an instance of its cluster serving
/// another collective, two processes under one instance name); healthy otherwise. Never unhealthy: as for an exchange link in
/// error, the process is doing what it can (retrying), so restarting it, which an orchestrator does with an unhealthy one,
/// would only start the retries again. The description names each disconnected instance and its last connect error,
/// without credentials. Register it with <c>services.AddHealthChecks().AddCheck&lt;FederationBrokerHealthCheck&gt;("federation-brokers")</c>.
/// </summary>
/// <param name="instances">The running instances (registered by <c>AddFederationBroker</c>).</param>
public sealed class FederationBrokerHealthCheck(FederationBrokerInstances instances) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(instances);
        var brokers = instances.GetBrokers();
        var disconnected = brokers.Where(b => !b.IsConnected).ToList();
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["instances"] = brokers.Count,
            ["connected"] = brokers.Count - disconnected.Count,
        };
        if (disconnected.Count == 0)
        {
            // Connected, but the cluster's announcements show a misconfiguration: requests go unanswered, the host runs on.
            var troubled = brokers.Where(b => b.ClusterProblem is not null).ToList();
            if (troubled.Count > 0)
            {
                data["degraded"] = troubled.Count;
                return Task.FromResult(HealthCheckResult.Degraded(
                    $"{troubled.Count} of {brokers.Count} federation broker instance(s) connected but misconfigured: {string.Join("; ", troubled.Select(b => $"{b.ClusterName}/{b.InstanceName}: {b.ClusterProblem}"))}",
                    data: data));
            }

            return Task.FromResult(HealthCheckResult.Healthy($"{brokers.Count} federation broker instance(s), all connected.", data));
        }

        // Degraded, as an exchange link in error is: the instance retries with backoff (and a NATS connection reconnects on
        // its own), the cluster's other instances take the work meanwhile, and a restart of the process would fix nothing.
        var details = disconnected.Select(b => $"{b.ClusterName}/{b.InstanceName}: {Transport.UriRedaction.RedactText(b.ConnectError ?? "not connected")}");
        return Task.FromResult(HealthCheckResult.Degraded(
            $"{disconnected.Count} of {brokers.Count} federation broker instance(s) not connected, retrying: {string.Join("; ", details)}",
            data: data));
    }
}
