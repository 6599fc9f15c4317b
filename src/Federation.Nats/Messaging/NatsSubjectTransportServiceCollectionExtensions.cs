using Federation.Core.Transport.Messaging;
using Federation.Nats.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using NATS.Client.Core;

namespace Federation.Nats;

/// <summary>Registers the NATS subject transport for the Federation of Collectives.</summary>
public static class NatsSubjectTransportServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="NatsSubjectTransport"/> as an <see cref="ISubjectTransport"/> (URI schemes <c>nats</c> and <c>tls</c>).
    /// Calling it more than once registers it once.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configureOptions">Adjusts the official client's <see cref="NatsOpts"/> of every connection (see <see cref="NatsSubjectTransport"/>).</param>
    /// <returns>The same service collection.</returns>
    public static IServiceCollection AddNatsSubjectTransport(this IServiceCollection services, Func<NatsOpts, NatsOpts>? configureOptions = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISubjectTransport, NatsSubjectTransport>(
            provider => new NatsSubjectTransport(provider.GetService<Microsoft.Extensions.Logging.ILoggerFactory>(), configureOptions)));
        return services;
    }
}
