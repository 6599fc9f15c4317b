namespace Federation.Core.Transport;

/// <summary>
/// A pluggable transport: it opens connections to brokers whose URI scheme it owns.
/// Register implementations in DI; the federation engine picks one by the scheme of each upstream or downstream URI.
/// </summary>
public interface ITransport
{
    /// <summary>URI schemes this transport serves, for example <c>amqp</c> and <c>amqps</c>.</summary>
    IReadOnlyCollection<string> Schemes { get; }

    /// <summary>Opens a connection. Fails with <see cref="TransportException"/> (or a subclass) when the broker cannot be reached or refuses the credentials.</summary>
    /// <param name="request">Where to connect, and how to name the connection.</param>
    /// <param name="cancellationToken">Cancels the connect attempt.</param>
    ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Checks a URI of one of <see cref="Schemes"/> without connecting, so that configuration is rejected when it is loaded
    /// (at start and on every reload) rather than by a link that fails later. Reports what <see cref="ConnectAsync"/>
    /// would reject as malformed: the syntax, and query keys or values the transport does not understand.
    /// </summary>
    /// <param name="uri">The URI, possibly with credentials.</param>
    /// <returns>
    /// One sentence per problem, naming the offending part (a query key and its value, say) and never the credentials;
    /// the caller adds the configuration key and the redacted URI. Empty when the URI is usable. The default accepts every URI.
    /// </returns>
    IReadOnlyList<string> ValidateUri(string uri) => [];

    /// <summary>
    /// Checks the settings an upstream (or upstream set element) runs with on <paramref name="uri"/>, one of
    /// <see cref="Schemes"/>, without connecting: what this transport would refuse when the link starts, such as a
    /// <c>prefetch-count</c> beyond its protocol's range. Configuration validation calls it at start and on every reload,
    /// so that such a value is refused, naming its key, before a reload stops the links that run now.
    /// </summary>
    /// <param name="uri">One URI of the upstream, possibly with credentials; it has passed <see cref="ValidateUri"/>.</param>
    /// <param name="settings">The values the upstream or set element sets.</param>
    /// <returns>One problem per setting this transport refuses; empty when it honours them all. The default accepts every setting.</returns>
    IReadOnlyList<UpstreamSettingProblem> ValidateUpstream(string uri, UpstreamSettings settings) => [];

    /// <summary>
    /// What this transport's connections can do beyond the common core, and so which of the documented alternative
    /// behaviours they show (see each flag of <see cref="TransportCapabilities"/>). The shared contract suite checks
    /// every transport against what it declares here.
    /// </summary>
    /// <remarks>The default, <see cref="TransportCapabilities.All"/>, is what an AMQP 0-9-1 broker offers; a transport that differs declares its own.</remarks>
    TransportCapabilities Capabilities => TransportCapabilities.All;

    /// <summary>
    /// Which kind of upstream queue a link declares through <paramref name="uri"/>, one of <see cref="Schemes"/>, for a
    /// transport whose URIs can choose between kinds on one broker (NATS: a JetStream durable consumer with
    /// <c>jetstream=true</c>, else a queue kept in the link's process). A reload that keeps a link on its broker but changes
    /// the kind cannot hand the old queue to the new run: the engine deletes it (events 2020 and 1028), as for a link moved
    /// to another upstream. Left behind, it would fill up, and a later reload back to its kind would deliver again what
    /// the other kind forwarded meanwhile. Make before break: the engine first declares and binds the new kind's queue,
    /// with this transport's ordinary calls, on a connection of its own that the new run then consumes, and only then
    /// stops the old run (event 1106), so what is published during the switch reaches one queue or both, never neither.
    /// The two kinds' queues of a link have the same name: deleting the old one (by name, on a connection of the old kind)
    /// must leave the new kind's queue alone, as NATS does (a core queue lives in its connection, a durable consumer on
    /// its stream).
    /// </summary>
    /// <param name="uri">The upstream URI, possibly with credentials; it has passed <see cref="ValidateUri"/>.</param>
    /// <param name="upstreamExchange">The upstream exchange the link federates, which may decide the kind (NATS: the stream a URI without <c>stream=</c> reads).</param>
    /// <returns>
    /// A short description of the kind, for the warning (never the credentials), equal for two URIs exactly when they declare
    /// the same queue kind; null (the default) when every URI of a broker declares the same kind.
    /// </returns>
    string? UpstreamQueueKind(string uri, string upstreamExchange) => null;

    /// <summary>
    /// The kind of upstream queue a link declares through <paramref name="uri"/>, whatever the upstream exchange: what the
    /// heartbeats of several instances say of each upstream, so that an instance whose reload changes a link's kind of queue
    /// (<see cref="UpstreamQueueKind"/>) keeps the old kind's queue only while another live instance still uses that kind.
    /// Coarser than <see cref="UpstreamQueueKind"/>: two URIs of one broker must get the same value whenever some upstream
    /// exchange gives them the same <see cref="UpstreamQueueKind"/> (NATS: every JetStream URI, whatever its <c>stream=</c>),
    /// or an instance would delete a queue that another one still consumes.
    /// </summary>
    /// <param name="uri">The upstream URI, possibly with credentials; it has passed <see cref="ValidateUri"/>.</param>
    /// <returns>
    /// A short name for the kind (it is hashed into the heartbeats), or null (the default) when the transport does not tell
    /// kinds apart: the old queue is then kept while another live instance's upstream of the same name reaches the broker.
    /// </returns>
    string? CoarseUpstreamQueueKind(string uri) => null;

    /// <summary>
    /// What a connection to the downstream <paramref name="uri"/>, one of <see cref="Schemes"/>, would report about its
    /// identity and exchanges, as far as the URI alone tells, without connecting. While the downstream cannot be reached
    /// (at start, or after a reload that points the engine at it), the engine lists the links it will run on the exchanges
    /// known this way, with the ids they will have, instead of listing none.
    /// </summary>
    /// <param name="uri">The downstream URI, possibly with credentials; it has passed <see cref="ValidateUri"/>.</param>
    /// <returns>The preview, or null (the default) when the URI tells nothing the engine could use.</returns>
    DownstreamPreview? PreviewDownstream(string uri) => null;
}

/// <summary>Parameters for <see cref="ITransport.ConnectAsync"/>.</summary>
/// <param name="Uri">Broker URI, possibly with credentials. Never log it: use <see cref="UriRedaction.Redact(string)"/>.</param>
/// <param name="ConnectionName">A human-readable connection name shown by the broker's management tools.</param>
/// <param name="ObserveTopology">
/// The caller needs <see cref="IBrokerConnection.Topology"/> (the engine asks for it on the downstream connection only).
/// Transports for which observing is costly (an event queue per connection on AMQP) set it up only when asked.
/// </param>
public sealed record ConnectionRequest(string Uri, string ConnectionName, bool ObserveTopology = false)
{
    /// <summary>
    /// Called, on any thread, when the broker starts holding back what is published on the connection (RabbitMQ's
    /// <c>connection.blocked</c> during a memory or disk alarm), with the broker's reason, and with null when it stops.
    /// The connection stays up meanwhile: only this tells a stall from an idle link. Transports that cannot tell never call it.
    /// </summary>
    public Action<string?>? Blocked { get; init; }

    /// <summary>
    /// Called, on any thread, when the transport cannot observe the downstream's topology as its URI asks (on NATS a
    /// <c>monitor-port</c> that cannot be read, or that answers for another server), with the reason, and with null once
    /// it can again. The connection and the links stay up meanwhile, but nothing is federated for what goes unseen, so
    /// every link would read as healthy. Transports that cannot tell never call it.
    /// </summary>
    public Action<string?>? TopologyUnobserved { get; init; }

    /// <summary>Hides the credentials so the request can be logged.</summary>
    public override string ToString() => $"{UriRedaction.Redact(Uri)} ({ConnectionName})";
}
