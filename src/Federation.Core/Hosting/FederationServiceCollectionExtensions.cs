using Federation.Core.Diagnostics;
using Federation.Core.InMemory;
using Federation.Core.Model;
using Federation.Core.Topology;
using Federation.Core.Transport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using System.Diagnostics.Metrics;

namespace Federation.Core.Hosting;

/// <summary>Registers exchange federation in a host.</summary>
public static class FederationServiceCollectionExtensions
{
    /// <summary>
    /// Adds federation: the options (validated when the host starts, and on every reload), one <see cref="FederationEngine"/> exposed as
    /// <see cref="IFederationStatus"/>, one hosted service, <see cref="FederationHealthCheck"/>, and the in-memory transport
    /// (scheme <c>memory</c>) over a shared <see cref="InMemoryBrokerRegistry"/>. Calling it again adds the configuration
    /// action and reuses the same registrations.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the options in code, after any bound configuration.</param>
    public static IFederationBuilder AddFederation(this IServiceCollection services, Action<FederationOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<FederationOptions>();
        if (configure is not null)
        {
            services.Configure(configure);
        }

        services.TryAddSingleton<InMemoryBrokerRegistry>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITransport, InMemoryTransport>());
        services.TryAddSingleton(sp => new FederationTelemetry(sp.GetService<IMeterFactory>()));
        services.TryAddSingleton(sp => new FederationEngine(
            sp.GetRequiredService<IOptionsMonitor<FederationOptions>>().CurrentValue,
            sp.GetServices<ITransport>(),
            sp.GetService<ILoggerFactory>(),
            sp.GetRequiredService<FederationTelemetry>(),
            sp.GetService<TimeProvider>(),
            sp.GetService<ExplicitTopology>()));
        services.TryAddSingleton<IFederationStatus>(sp => sp.GetRequiredService<FederationEngine>());
        services.TryAddSingleton<FederationHealthCheck>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, FederationHostedService>());
        return new FederationBuilder(services);
    }

    /// <summary>
    /// Explicit mode: the engine federates the exchanges and bindings declared on <paramref name="topology"/> (and declares
    /// them on the downstream broker) instead of observing the downstream broker. Keep the instance to declare more later.
    /// </summary>
    /// <param name="builder">The federation builder.</param>
    /// <param name="topology">The host's declarations.</param>
    public static IFederationBuilder UseExplicitTopology(this IFederationBuilder builder, ExplicitTopology topology)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(topology);
        builder.Services.AddSingleton(topology);
        return builder;
    }

    /// <summary>Adds federation configured from a <c>Federation</c> configuration section, reloading links when it changes.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="section">The <c>Federation</c> section (keys in rabbitmqctl spelling inside upstreams, sets and policies).</param>
    public static IFederationBuilder AddFederation(this IServiceCollection services, IConfiguration section) =>
        services.AddFederation().BindConfiguration(section);

    /// <summary>Binds the options from a <c>Federation</c> configuration section and follows its reloads.</summary>
    public static IFederationBuilder BindConfiguration(this IFederationBuilder builder, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(section);
        builder.Services.AddSingleton<IConfigureOptions<FederationOptions>>(new ConfigureFromConfiguration(section));
        builder.Services.AddSingleton<IOptionsChangeTokenSource<FederationOptions>>(new ConfigurationChangeTokenSource<FederationOptions>(section));
        return builder;
    }

    /// <summary>Registers an additional transport (for example AMQP or NATS) as a singleton.</summary>
    public static IFederationBuilder AddTransport<[System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicConstructors)] TTransport>(this IFederationBuilder builder)
        where TTransport : class, ITransport
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<ITransport, TTransport>());
        return builder;
    }

    /// <summary>Uses <paramref name="registry"/> for <c>memory://</c> URIs, so the host can share brokers it created itself.</summary>
    public static IFederationBuilder UseInMemoryBrokers(this IFederationBuilder builder, InMemoryBrokerRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Replace(ServiceDescriptor.Singleton(registry));
        return builder;
    }

    private sealed class ConfigureFromConfiguration(IConfiguration section) : IConfigureOptions<FederationOptions>
    {
        public void Configure(FederationOptions options) => FederationConfigurationReader.Read(section, options);
    }
}
