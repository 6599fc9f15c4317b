namespace FederationHost.Tests;

/// <summary>
/// Tests that read an in-process host's <c>/metrics</c> run alone. The OpenTelemetry SDK subscribes to meters by name,
/// process-wide, and keeps one stream per instrument name: when another test's host in this process disposes its own
/// <c>Federation.Core</c> meter, the SDK ends those streams for every provider (open-telemetry/opentelemetry-dotnet#6412),
/// and a scrape after it shows only <c>target_info</c>. A real FederationHost process has one such meter for its whole life.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class InProcessMetricsCollection
{
    public const string Name = "In-process metrics";
}
