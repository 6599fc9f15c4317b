using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A routing key the downstream transport has no form for is refused with an <see cref="ArgumentException"/> that quotes
/// it (the NATS adapter: <c>Key 'eu.&#x1B;[31mred' contains whitespace...</c>). The key comes from whoever published
/// upstream, so the loss warning (event 1011) must show its control characters escaped: a raw ESC would be acted on by
/// the terminal that shows the log, and a raw line break would forge a log line.
/// </summary>
public sealed class RefusedRoutingKeyLogTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();
    private readonly CapturingLoggerProvider _logs = new();

    public Task InitializeAsync()
    {
        _bed.WrapTransport = inner => new KeyRefusingTransport(inner);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _bed.DisposeAsync();
        _logs.Dispose();
    }

    [Fact]
    public async Task The_loss_warning_escapes_control_characters_of_the_refused_routing_key()
    {
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u"), loggerFactory: _logs.AsFactory());
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        await _bed.BindQueueAsync("D", "fed.downstream", "#");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "#", 1);

        await Testbed.PublishAsync(await _bed.ConnectAsync("U"), "upstream", "eu.\u001B[31mred\r\nforged line", "m0");

        await Testbed.Eventually(() => _logs.WithId(1011).Count == 1, () => $"{_logs.WithId(1011).Count} loss warning(s)");
        var warning = Assert.Single(_logs.WithId(1011)).Message;
        Assert.Contains("downstream_rejected", warning, StringComparison.Ordinal);
        Assert.Contains("eu.\\u001B[31mred\\u000D\\u000Aforged line", warning, StringComparison.Ordinal);
        Assert.DoesNotContain(warning, char.IsControl);
        Assert.Equal(1, engine.GetLinks()[0].DroppedMessages?.GetValueOrDefault("downstream_rejected"));
    }

    /// <summary>Refuses every link publish as the NATS adapter refuses a key with a control character: quoting the key.</summary>
    private sealed class KeyRefusingTransport(ITransport inner) : ITransport
    {
        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(uri);

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
            new RefusingConnection(await inner.ConnectAsync(request, cancellationToken));

        private sealed class RefusingConnection(IBrokerConnection inner) : DelegatingBrokerConnection(inner)
        {
            public override async ValueTask<IMessagePublisher> OpenPublisherAsync(PublisherOptions options, CancellationToken cancellationToken) =>
                new RefusingPublisher(await Inner.OpenPublisherAsync(options, cancellationToken));
        }

        private sealed class RefusingPublisher(IMessagePublisher inner) : IMessagePublisher
        {
            public ValueTask PublishAsync(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
            {
                // The instances' heartbeats pass; the link's messages are refused synchronously, as NatsSubjectMapping does.
                if (exchange.StartsWith(FederationDefinitions.PresenceExchangePrefix, StringComparison.Ordinal))
                {
                    return inner.PublishAsync(exchange, routingKey, properties, body, cancellationToken);
                }

                throw new ArgumentException($"Key '{routingKey}' contains whitespace or a control character; NATS subjects cannot.", nameof(routingKey));
            }

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }
}
