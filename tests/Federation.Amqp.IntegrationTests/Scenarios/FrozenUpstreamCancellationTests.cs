using System.Diagnostics;
using Federation.Core.Transport;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// A topology call on a connection whose broker stopped answering (frozen, black-holed) ends when its token is cancelled,
/// not when RabbitMQ.Client's continuation timeout (20 s) runs out: the client does not end a call waiting for its reply
/// when the token is cancelled. A link checks its upstream every 10 s with such calls (passive declares); a stop or a
/// restart that came while one waited for a frozen upstream waited for it, so a host's SIGTERM during traffic took the
/// whole 30 s shutdown timeout instead of the 5 s the README promises for an upstream that stopped answering.
/// </summary>
[Collection(RestartScenarioCollection.Name)]
public sealed class FrozenUpstreamCancellationTests(RestartScenarioNodesFixture nodes) : IAsyncLifetime
{
    // Far below the client's 20 s continuation timeout, far above a cancellation that is honoured at once on a loaded machine.
    private static readonly TimeSpan EndsWithin = TimeSpan.FromSeconds(8);
    private readonly FrozenNode freezer = new();
    private IBrokerConnection? connection;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await freezer.ThawAsync();
        if (connection is not null)
        {
            await connection.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_topology_call_waiting_for_a_frozen_broker_ends_when_its_token_is_cancelled()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        connection = await new AmqpTransport().ConnectAsync(new ConnectionRequest(nodes.Upstream.AmqpUri(), "frozen-upstream-cancel"), timeout.Token);
        Assert.True(await connection.ExchangeExistsAsync("amq.topic", timeout.Token)); // the topology channel is open

        await freezer.FreezeAsync(nodes.Upstream, "upstream");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var clock = Stopwatch.StartNew();
        var check = connection.ExchangeExistsAsync("amq.topic", stop.Token).AsTask();
        await Assert.ThrowsAnyAsync<Exception>(() => check.WaitAsync(TimeSpan.FromSeconds(60)));
        var took = clock.Elapsed;

        Assert.True(took <= EndsWithin, $"The call ended {took.TotalSeconds:F1} s after it began, its token cancelled after 1 s: {check.Exception?.InnerException?.GetType().Name}");
        Assert.True(check.IsCanceled || check.Exception?.InnerException is OperationCanceledException, $"The call ended with {check.Exception?.InnerException}, not as cancelled");

        // The connection stays usable once the broker answers again: the abandoned call's channel is not reused.
        await freezer.ThawAsync();
        Assert.True(await connection.ExchangeExistsAsync("amq.topic", timeout.Token));
    }
}
