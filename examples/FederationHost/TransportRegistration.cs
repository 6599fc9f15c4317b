using Federation.Amqp;
using Federation.Core.Hosting;
using Federation.Nats;
using Federation.Nats.Transport;
using Microsoft.Extensions.DependencyInjection;

namespace FederationHost;

/// <summary>
/// The one place where the host registers transports. The engine picks a transport by URI scheme, so registering a
/// transport is all it takes for <c>amqp://</c> (or later <c>nats://</c>) URIs in configuration to work.
/// </summary>
public static class TransportRegistration
{
    /// <summary>Registers every transport this host ships with. <c>memory://</c> is already registered by <c>AddFederation</c>.</summary>
    /// <param name="federation">The builder returned by <c>AddFederation</c>.</param>
    public static IFederationBuilder AddTransports(IFederationBuilder federation)
    {
        ArgumentNullException.ThrowIfNull(federation);

        federation.AddAmqpTransport();         // amqp://, amqps://
        federation.AddNatsTransport();         // nats://, tls://
        return federation;
    }

    /// <summary>
    /// Registers every subject transport the federation broker instances (the <c>FederationBrokers</c> section) may use.
    /// <c>memory://</c> is added by <c>AddFederationBroker</c> (and here, so that the set is complete on its own).
    /// </summary>
    /// <param name="services">The host's services.</param>
    public static IServiceCollection AddSubjectTransports(IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);

        services.AddInMemorySubjectTransport(); // memory://
        services.AddNatsSubjectTransport();     // nats://, tls://
        services.AddAmqpSubjectTransport();     // amqp://, amqps://
        return services;
    }
}
