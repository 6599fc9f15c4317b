using Federation.Core.Collectives;
using Federation.Core.Diagnostics;
using Federation.Core.InMemory.Subjects;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using System.Diagnostics.Metrics;

namespace Federation.Core.Hosting;

/// <summary>Registers federation broker instances (Federation of Collectives) and subject transports in a host.</summary>
public static class FederationBrokerServiceCollectionExtensions
{
    /// <summary>
    /// Adds one federation broker instance, run by a hosted service, with named options <paramref name="name"/> (validated
    /// when the host starts; errors name the key and the value). Call it once per instance: several clusters (a collective
    /// in two federations) or several instances of one cluster can run in one process. <see cref="FederationBrokerOptions.ClusterName"/>
    /// defaults to <paramref name="name"/>, <see cref="FederationBrokerOptions.InstanceName"/> to the machine name,
    /// <paramref name="name"/> and the process id (<c>&lt;machine&gt;-&lt;name&gt;-&lt;pid&gt;</c>, with <c>-2</c>... for a
    /// second host of one process), so two processes with one configuration on one machine are told apart. Also adds the in-memory subject transport (scheme <c>memory</c>); other transports
    /// register themselves as <see cref="ISubjectTransport"/> singletons. A server that cannot be reached at start does not fail
    /// the host start: the instance retries with backoff, and <see cref="FederationBrokerHealthCheck"/> (over
    /// <see cref="FederationBrokerInstances"/>, registered here) reports it unhealthy meanwhile.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The registration name, unique in the host.</param>
    /// <param name="configure">Configures the options in code, after any bound configuration.</param>
    /// <exception cref="ArgumentException">A broker with this name is already registered.</exception>
    public static IServiceCollection AddFederationBroker(this IServiceCollection services, string name, Action<FederationBrokerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (services.Any(d => d.ServiceType == typeof(BrokerRegistration) && d.ImplementationInstance is BrokerRegistration { Name: var existing } && existing == name))
        {
            throw new ArgumentException($"A federation broker named '{name}' is already registered.", nameof(name));
        }

        services.AddSingleton(new BrokerRegistration(name));
        services.AddInMemorySubjectTransport();
        services.TryAddSingleton<FederationBrokerInstances>();
        services.TryAddSingleton(sp => new FederationTelemetry(sp.GetService<IMeterFactory>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FederationBrokerOptions>, FederationBrokerOptionsValidator>());
        var options = services.AddOptions<FederationBrokerOptions>(name);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        // The default InstanceName is given when the instance starts (FederationBrokerHostedService), not here: options
        // resolved without starting anything (a check of the configuration on a throwaway provider) would otherwise take
        // the process's first default name of this registration, and the instance that runs would be "-2".
        options.PostConfigure(o => o.ClusterName ??= name);
        services.AddSingleton<IHostedService>(sp => new FederationBrokerHostedService(
            name,
            sp.GetRequiredService<IOptionsMonitor<FederationBrokerOptions>>(),
            sp.GetServices<ISubjectTransport>(),
            sp.GetRequiredService<FederationTelemetry>(),
            sp.GetService<ILoggerFactory>(),
            sp.GetService<TimeProvider>(),
            sp.GetRequiredService<FederationBrokerInstances>()));
        return services;
    }

    /// <summary>
    /// Adds one federation broker instance configured from <paramref name="section"/> (keys: the
    /// <see cref="FederationBrokerOptions"/> property names); the registration name is the section's key.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="section">The broker's configuration section, for example <c>FederationBrokers:london</c>.</param>
    /// <param name="configure">Configures the options in code, after the section.</param>
    public static IServiceCollection AddFederationBroker(this IServiceCollection services, IConfigurationSection section, Action<FederationBrokerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(section);
        return services.AddFederationBroker(section.Key, options =>
        {
            FederationBrokerConfigurationReader.Read(section, options);
            configure?.Invoke(options);
        });
    }

    /// <summary>
    /// Adds the in-memory subject transport (scheme <c>memory</c>) over a shared <see cref="InMemorySubjectServerRegistry"/>
    /// (register your own registry before calling this to share servers you created), and a <see cref="SubjectTransportResolver"/>
    /// over every registered <see cref="ISubjectTransport"/>. Idempotent.
    /// </summary>
    /// <param name="services">The service collection.</param>
    public static IServiceCollection AddInMemorySubjectTransport(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<InMemorySubjectServerRegistry>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISubjectTransport, InMemorySubjectTransport>(
            sp => new InMemorySubjectTransport(sp.GetRequiredService<InMemorySubjectServerRegistry>(), sp.GetService<ILoggerFactory>())));
        services.TryAddSingleton(sp => new SubjectTransportResolver(sp.GetServices<ISubjectTransport>()));
        return services;
    }

    /// <summary>Marks a registered broker name, so a second registration with the same name fails early.</summary>
    private sealed record BrokerRegistration(string Name);
}
