using Federation.Core.Hosting;

namespace Federation.Amqp;

/// <summary>Registers the AMQP transport with federation.</summary>
public static class AmqpFederationBuilderExtensions
{
    /// <summary>
    /// Adds <see cref="AmqpTransport"/>, so upstream and downstream URIs may use <c>amqp://</c> and <c>amqps://</c>, and, for the
    /// Federation of Collectives, the subject transport <see cref="Messaging.AmqpSubjectTransport"/> (see
    /// <see cref="AmqpSubjectTransportServiceCollectionExtensions.AddAmqpSubjectTransport"/>).
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddFederation()</c>.</param>
    public static IFederationBuilder AddAmqpTransport(this IFederationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddAmqpSubjectTransport();
        return builder.AddTransport<AmqpTransport>();
    }
}
