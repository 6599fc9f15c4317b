using Federation.Core.Hosting;
using Federation.Core.InMemory;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Support;

/// <summary>
/// A host whose <c>Federation</c> section can be changed and reloaded through <see cref="Source"/>, with in-memory brokers
/// <c>london</c> (downstream) and <c>tokyo</c>, one policy that federates <c>federated.*</c> exchanges from tokyo, and
/// its log captured in <see cref="Logs"/>: the set-up of the reload tests.
/// </summary>
internal sealed class ReloadableFederationHost
{
    public InMemoryBrokerRegistry Registry { get; } = new();

    public CapturingLoggerProvider Logs { get; } = new();

    public ReloadableConfigurationSource Source { get; } = new(new Dictionary<string, string?>
    {
        ["Federation:ClusterName"] = "london",
        ["Federation:Downstream:uri"] = "memory://london/%2f",
        ["Federation:Upstreams:tokyo:uri"] = "memory://tokyo/%2f",
        ["Federation:Policies:p:pattern"] = "^federated\\.",
        ["Federation:Policies:p:definition:federation-upstream"] = "tokyo",
    });

    /// <summary>Builds the host; <paramref name="configure"/> adds to its federation (a transport, say).</summary>
    public IHost Build(Action<IFederationBuilder>? configure = null)
    {
        Registry.GetOrAdd("london", "london");
        Registry.GetOrAdd("tokyo", "tokyo");
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.Sources.Clear();
        ((IConfigurationBuilder)builder.Configuration).Add(Source);
        builder.Logging.ClearProviders().AddProvider(Logs);
        var federation = builder.Services.AddFederation(builder.Configuration.GetSection("Federation")).UseInMemoryBrokers(Registry);
        configure?.Invoke(federation);
        return builder.Build();
    }
}
