using Federation.Core.Hosting;
using Federation.Core.Transport;
using FederationHost.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FederationHost.Endpoints;

/// <summary>
/// The health <c>GET /health</c> reports: the exchange federation's check (<see cref="FederationHealthCheck"/>) when the
/// host runs exchange federation, the broker instances' check (<see cref="FederationBrokerHealthCheck"/>) when it runs
/// broker instances, and the worse of the two when it runs both. One check alone is reported as it is; with both, the
/// description has the less healthy one's first, and the broker check's data is under <c>brokers</c>. A configured broker
/// instance that is not running (before its start, after its stop) makes the broker part unhealthy.
/// </summary>
internal sealed class HostHealth(HostFeatures features, IServiceProvider services)
{
    /// <summary>The key of the broker instances' data in <see cref="HealthCheckResult.Data"/>.</summary>
    public const string BrokersKey = "brokers";

    /// <summary>Runs the checks that apply; a check that throws is unhealthy, with its message redacted.</summary>
    public async Task<HealthCheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        var results = new List<HealthCheckResult>();
        if (features.ExchangeFederation)
        {
            results.Add(await RunAsync(services.GetRequiredService<FederationHealthCheck>(), "federation", cancellationToken));
        }

        if (features.Brokers)
        {
            var brokers = await RunAsync(services.GetRequiredService<FederationBrokerHealthCheck>(), "federation broker", cancellationToken);
            var running = services.GetRequiredService<FederationBrokerInstances>().GetBrokers().Count;
            if (running < features.BrokerNames.Count)
            {
                // The library's check sees running instances only: one that is not (yet, or any more) running is not serving.
                brokers = HealthCheckResult.Unhealthy(
                    $"{features.BrokerNames.Count - running} of {features.BrokerNames.Count} configured federation broker instance(s) not running. {brokers.Description}",
                    data: brokers.Data);
            }

            results.Add(new HealthCheckResult(
                brokers.Status, brokers.Description, brokers.Exception,
                new Dictionary<string, object>(StringComparer.Ordinal) { [BrokersKey] = brokers.Data }));
        }

        if (results is [var only])
        {
            return only;
        }

        var status = results.Min(r => r.Status);
        var data = results.SelectMany(r => r.Data).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        var description = string.Join(" ", results.OrderBy(r => r.Status).Select(r => r.Description).Where(d => !string.IsNullOrEmpty(d)));
        return new HealthCheckResult(status, description, data: data);
    }

    private static async Task<HealthCheckResult> RunAsync(IHealthCheck check, string name, CancellationToken cancellationToken)
    {
        try
        {
            return await check.CheckHealthAsync(new HealthCheckContext(), cancellationToken);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"The {name} health check failed: " + UriRedaction.RedactText(error.Message));
        }
    }
}
