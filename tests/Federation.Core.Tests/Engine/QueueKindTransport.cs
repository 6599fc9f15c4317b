using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A transport whose URIs choose between two kinds of upstream queue on one broker, as NATS' <c>jetstream=true</c> does:
/// a URI whose user is <c>kindb</c> declares "kind B", any other the transport's only kind ("kind A" in the heartbeats).
/// Everything else is the inner transport's.
/// </summary>
/// <param name="inner">The transport that does the work.</param>
/// <param name="separateObjects">
/// Whether a kind B link's objects on the upstream (queue, internal exchanges, sentinel) get names of their own, as a
/// JetStream durable consumer and a core NATS link's queue are apart: deleting the other kind's then leaves them alone.
/// Without it both kinds declare the very same queue.
/// </param>
internal sealed class QueueKindTransport(ITransport inner, bool separateObjects = false) : ITransport
{
    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    public TransportCapabilities Capabilities => inner.Capabilities;

    public IReadOnlyList<string> ValidateUri(string uri) => inner.ValidateUri(uri);

    public IReadOnlyList<UpstreamSettingProblem> ValidateUpstream(string uri, UpstreamSettings settings) => inner.ValidateUpstream(uri, settings);

    public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(uri);

    public string? UpstreamQueueKind(string uri, string upstreamExchange) => IsKindB(uri) ? "kind B" : null;

    public string? CoarseUpstreamQueueKind(string uri) => IsKindB(uri) ? "kind B" : "kind A";

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
    {
        var connection = await inner.ConnectAsync(request, cancellationToken);
        return separateObjects && IsKindB(request.Uri) ? new KindBConnection(connection) : connection;
    }

    /// <summary>The name a kind B link's object has on the broker, with <c>separateObjects</c>.</summary>
    public static string KindBName(string name) => name.StartsWith("federation: ", StringComparison.Ordinal) ? "federation kind B: " + name["federation: ".Length..] : name;

    private static bool IsKindB(string uri) => uri.Contains("//kindb", StringComparison.Ordinal);

    /// <summary>Renames what a link declares on the upstream (its names start with <c>federation: </c>); the upstream exchange keeps its name.</summary>
    private sealed class KindBConnection(IBrokerConnection inner) : DelegatingBrokerConnection(inner)
    {
        public override ValueTask DeclareExchangeAsync(ExchangeSpec exchange, CancellationToken cancellationToken) => Inner.DeclareExchangeAsync(exchange with { Name = Rename(exchange.Name) }, cancellationToken);

        public override ValueTask<bool> ExchangeExistsAsync(string name, CancellationToken cancellationToken) => Inner.ExchangeExistsAsync(Rename(name), cancellationToken);

        public override ValueTask DeleteExchangeAsync(string name, CancellationToken cancellationToken) => Inner.DeleteExchangeAsync(Rename(name), cancellationToken);

        public override ValueTask DeclareQueueAsync(QueueSpec queue, CancellationToken cancellationToken) => Inner.DeclareQueueAsync(queue with { Name = Rename(queue.Name) }, cancellationToken);

        public override ValueTask DeleteQueueAsync(string name, CancellationToken cancellationToken) => Inner.DeleteQueueAsync(Rename(name), cancellationToken);

        public override ValueTask<long?> DeleteQueueCountingDiscardedAsync(string name, CancellationToken cancellationToken) => Inner.DeleteQueueCountingDiscardedAsync(Rename(name), cancellationToken);

        public override ValueTask<long?> CountQueueMessagesAsync(string name, CancellationToken cancellationToken) => Inner.CountQueueMessagesAsync(Rename(name), cancellationToken);

        public override ValueTask<long?> CountQueueConsumersAsync(string name, CancellationToken cancellationToken) => Inner.CountQueueConsumersAsync(Rename(name), cancellationToken);

        public override ValueTask BindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken) => Inner.BindAsync(Rename(binding), noWait, cancellationToken);

        public override ValueTask UnbindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken) => Inner.UnbindAsync(Rename(binding), noWait, cancellationToken);

        public override ValueTask<IMessageConsumer> ConsumeAsync(string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken) =>
            Inner.ConsumeAsync(Rename(queue), options, handler, cancellationToken);

        private static string Rename(string name) => KindBName(name);

        private static BindingSpec Rename(BindingSpec binding) => binding with { Source = Rename(binding.Source), Destination = Rename(binding.Destination) };
    }
}
