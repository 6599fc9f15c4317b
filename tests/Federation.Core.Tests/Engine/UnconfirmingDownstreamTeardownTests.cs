using Federation.Core.Links;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A downstream that keeps its connection but stops confirming (RabbitMQ blocks publishing connections during a memory or
/// disk alarm) while a link runs: closing the link's publisher does not complete until the alarm clears. The teardown
/// waits for it one drain timeout (5 s), as for an upstream that does not answer, and leaves the rest to the background.
/// </summary>
public sealed class UnconfirmingDownstreamTeardownTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();
    private StuckPublisherTransport _transport = null!;

    public Task InitializeAsync()
    {
        _bed.WrapTransport = inner => _transport = new StuckPublisherTransport(inner);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _transport.Release();
        await _bed.DisposeAsync();
    }

    [Fact]
    public async Task A_restart_does_not_wait_for_a_publisher_that_never_finishes_closing_and_the_link_runs_again()
    {
        var (engine, queue) = await _bed.StartSimpleLinkAsync();
        var before = Assert.Single(engine.GetLinks());
        _transport.Stick();

        Assert.True(await engine.RestartLinkAsync(before.Id, CancellationToken.None));

        // Before, the old session's teardown waited for the publisher's dispose for good.
        await Testbed.Eventually(
            () => engine.GetLinks() is [{ State: LinkState.Running } link] && link.Since > before.Since,
            () => $"link {engine.GetLinks()[0].State} since {engine.GetLinks()[0].Since:O}, before {before.Since:O}",
            TimeSpan.FromSeconds(15));

        await Testbed.PublishAsync(await _bed.ConnectAsync("U"), "upstream", "key", "after the restart");
        await queue.ExpectAsync("after the restart");
    }

    /// <summary>Passes everything through; once <see cref="Stick"/> is called, disposing a publisher waits for <see cref="Release"/>.</summary>
    private sealed class StuckPublisherTransport(ITransport inner) : ITransport
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile bool _stuck;

        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public void Stick() => _stuck = true;

        public void Release() => _released.TrySetResult();

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
            new Connection(await inner.ConnectAsync(request, cancellationToken), this);

        private sealed class Connection(IBrokerConnection inner, StuckPublisherTransport transport) : DelegatingBrokerConnection(inner)
        {
            public override async ValueTask<IMessagePublisher> OpenPublisherAsync(PublisherOptions options, CancellationToken cancellationToken) =>
                new Publisher(await Inner.OpenPublisherAsync(options, cancellationToken), transport);
        }

        private sealed class Publisher(IMessagePublisher inner, StuckPublisherTransport transport) : IMessagePublisher
        {
            public ValueTask PublishAsync(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) =>
                inner.PublishAsync(exchange, routingKey, properties, body, cancellationToken);

            public async ValueTask DisposeAsync()
            {
                if (transport._stuck)
                {
                    await transport._released.Task;
                }

                await inner.DisposeAsync();
            }
        }
    }
}
