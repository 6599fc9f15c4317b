using Federation.Core.Transport.Messaging;
using Federation.Nats.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Federation.Nats;

/// <summary>Registers the NATS subject transport for the Federation of Collectives.</summary>
public static class NatsSubjectTransportServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="NatsSubjectTransport"/> as an <see cref="ISubjectTransport"/> (URI schemes <c>nats</c> and <c>tls</c>).
    /// Calling it more than once registers it once.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The same service collection.</returns>
    public static IServiceCollection AddNatsSubjectTransport(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISubjectTransport, NatsSubjectTransport>());
        return services;
    }
}
