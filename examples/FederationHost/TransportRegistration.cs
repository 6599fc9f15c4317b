using Federation.Amqp;
using Federation.Core.Hosting;
using Federation.Nats.Transport;

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
}
