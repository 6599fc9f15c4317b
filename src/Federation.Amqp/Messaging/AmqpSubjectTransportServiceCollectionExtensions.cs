using Federation.Amqp.Messaging;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Federation.Amqp;

/// <summary>Registers the AMQP subject transport for the Federation of Collectives.</summary>
public static class AmqpSubjectTransportServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="AmqpSubjectTransport"/> as an <see cref="ISubjectTransport"/> (URI schemes <c>amqp</c> and <c>amqps</c>),
    /// so federation brokers may use <c>amqp://</c> URIs. Calling it more than once registers it once.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The same service collection.</returns>
    public static IServiceCollection AddAmqpSubjectTransport(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISubjectTransport, AmqpSubjectTransport>(
            provider => new AmqpSubjectTransport(provider.GetService<ILoggerFactory>())));
        return services;
    }
}
