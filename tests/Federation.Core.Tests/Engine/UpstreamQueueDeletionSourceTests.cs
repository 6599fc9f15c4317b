using Federation.Core.InMemory;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// The engine deletes a link's upstream queue without its session (between runs, and at a sweep's second look at a retired
/// or removed link's queue) on a connection that has not declared it. It names the exchange the queue reads, so that a
/// transport that places queues of one name by it (NATS JetStream: on the stream of the URI's <c>stream=</c> or of that
/// exchange) deletes that definition's queue only, never the one of the same name that the link's current run reads.
/// </summary>
public sealed class UpstreamQueueDeletionSourceTests
{
    [Fact]
    public async Task Deleting_a_links_queue_without_its_session_names_the_exchange_it_reads()
    {
        var registry = new InMemoryBrokerRegistry();
        registry.GetOrAdd("U", "U");
        var transport = new SourceRecordingTransport(new InMemoryTransport(registry));
        var upstream = ResolvedUpstream.FromDefinition("u", new UpstreamDefinition { Uris = { Testbed.Uri("U") }, Exchange = "upstream-orders" });
        var definition = new LinkDefinition("0badf00d", new ExchangeSpec("orders", ExchangeSpec.Types.Topic), upstream, "p", "D", "/");

        var (queue, _) = await UpstreamObjects.DeleteAsync(definition, new TransportResolver([transport]), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, "the link is removed", CancellationToken.None);

        Assert.Equal((queue, "upstream-orders"), Assert.Single(transport.Deletions));
    }

    /// <summary>Records the queue deletions that name the exchange their queue reads.</summary>
    private sealed class SourceRecordingTransport(ITransport inner) : ITransport
    {
        public System.Collections.Concurrent.ConcurrentQueue<(string Queue, string Source)> Deletions { get; } = new();

        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(uri);

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
            new Connection(await inner.ConnectAsync(request, cancellationToken), this);

        private sealed class Connection(IBrokerConnection inner, SourceRecordingTransport transport) : DelegatingBrokerConnection(inner), IBrokerConnection
        {
            public ValueTask<long?> DeleteUpstreamQueueAsync(string name, string source, CancellationToken cancellationToken)
            {
                transport.Deletions.Enqueue((name, source));
                return Inner.DeleteUpstreamQueueAsync(name, source, cancellationToken);
            }
        }
    }
}
