using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A downstream connection whose close blocks its caller's thread before returning (a client's synchronous dispose waiting
/// for a frozen peer) must not hold up an engine stop: the stop's limits apply only once the close has returned a task. A
/// black-box run (7 Dec 2026) saw a SIGTERM with the downstream frozen take 18-23 s, its event 2024 saying the close had
/// been waited for 0 ms.
/// </summary>
public sealed class BlockingDownstreamCloseTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();
    private readonly ManualResetEventSlim _thawed = new();
    private readonly List<BlockingConnection> _downstream = [];

    public Task InitializeAsync()
    {
        _bed.WrapTransport = inner => new BlockingTransport(inner, this);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _thawed.Set();
        await _bed.DisposeAsync();
        _thawed.Dispose();
    }

    [Fact]
    public async Task Stopping_the_engine_does_not_wait_for_a_downstream_close_that_blocks_its_thread()
    {
        var (engine, _) = await _bed.StartSimpleLinkAsync();
        lock (_downstream)
        {
            Assert.NotEmpty(_downstream);
            foreach (var connection in _downstream)
            {
                connection.Frozen = true;
            }
        }

        var stopping = Task.Run(() => engine.StopAsync(CancellationToken.None));

        // Before, the stop waited for the blocked close for as long as it blocked (here: until the test ends).
        var finished = await Task.WhenAny(stopping, Task.Delay(TimeSpan.FromSeconds(20)));
        Assert.Same(stopping, finished);
        await stopping;
    }

    private sealed class BlockingTransport(ITransport inner, BlockingDownstreamCloseTests test) : ITransport
    {
        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
        {
            var connection = await inner.ConnectAsync(request, cancellationToken);
            if (!request.Uri.StartsWith(Testbed.Uri("D"), StringComparison.Ordinal))
            {
                return connection;
            }

            var blocking = new BlockingConnection(connection, test._thawed);
            lock (test._downstream)
            {
                test._downstream.Add(blocking);
            }

            return blocking;
        }
    }

    private sealed class BlockingConnection(IBrokerConnection inner, ManualResetEventSlim thawed) : DelegatingBrokerConnection(inner)
    {
        public volatile bool Frozen;

        public override ValueTask DisposeAsync()
        {
            if (Frozen)
            {
                thawed.Wait(); // blocks the caller's thread, as a synchronous close of a client would
            }

            return Inner.DisposeAsync();
        }
    }
}
