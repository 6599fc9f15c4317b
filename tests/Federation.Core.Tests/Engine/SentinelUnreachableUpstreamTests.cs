using Federation.Core.Links;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A link runs without its sentinel when the upstream refuses it, but an upstream that cannot be reached while the sentinel
/// is declared (an AMQP management API that takes the connection and never answers, until <c>management-timeout</c>) fails
/// the link at once, naming the cause: declaring the internal exchange next would wait as long again and fail the same way,
/// which kept such a link in <c>starting</c> for two timeouts.
/// </summary>
public sealed class SentinelUnreachableUpstreamTests
{
    private const string Cause = "The RabbitMQ management API at http://127.0.0.1:1 did not answer within 10 s";

    [Fact]
    public async Task An_unreachable_upstream_at_the_sentinel_fails_the_link_without_a_second_declare()
    {
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        await using var bed = new Testbed();
        UnreachableSentinelTransport? unreachable = null;
        bed.WrapTransport = inner => unreachable = new UnreachableSentinelTransport(inner);
        var app = await bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed.downstream");
        var engine = await bed.StartEngineAsync(
            "D",
            o => o.Upstream("u", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u"),
            loggerFactory: loggerFactory);

        await Testbed.Eventually(
            () => engine.GetLinks() is [{ State: LinkState.Error }],
            () => $"the link in error (is {string.Join(", ", engine.GetLinks().Select(l => l.State))})",
            TimeSpan.FromSeconds(30));

        var link = Assert.Single(engine.GetLinks());
        Assert.Contains(Cause, link.Error, StringComparison.Ordinal);
        Assert.Equal(0, unreachable!.InternalExchangeDeclares);
        Assert.Empty(logs.WithId(1019)); // not told as a refused sentinel the link runs without
    }

    /// <summary>Fails every declare of a link's sentinel as unreachable, and counts the declares of its internal exchange.</summary>
    private sealed class UnreachableSentinelTransport(ITransport inner) : ITransport
    {
        private int _internalExchangeDeclares;

        public int InternalExchangeDeclares => Volatile.Read(ref _internalExchangeDeclares);

        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(uri);

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
            new Connection(await inner.ConnectAsync(request, cancellationToken), this);

        private sealed class Connection(IBrokerConnection inner, UnreachableSentinelTransport transport) : DelegatingBrokerConnection(inner)
        {
            public override ValueTask DeclareExchangeAsync(ExchangeSpec exchange, CancellationToken cancellationToken)
            {
                if (exchange.Name.EndsWith(" sentinel", StringComparison.Ordinal))
                {
                    throw new BrokerUnreachableException(Cause);
                }

                if (exchange.Internal)
                {
                    Interlocked.Increment(ref transport._internalExchangeDeclares);
                }

                return base.DeclareExchangeAsync(exchange, cancellationToken);
            }
        }
    }
}
