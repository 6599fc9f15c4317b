using Federation.Core;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// The set-up of the tests that run durable links between two JetStream nats-servers of their own: an upstream and a
/// downstream started fresh for each test, and the engines the test starts, disposed before the servers stop.
/// </summary>
/// <param name="upstreamName">The upstream server's name, which also names its temporary store directory.</param>
/// <param name="downstreamName">The downstream server's name; null starts it without one (no <c>-n</c>).</param>
public abstract class JetStreamServerPairTests(string upstreamName, string? downstreamName) : IAsyncLifetime
{
    /// <summary>The engines the test started and still owns; disposed first when the test ends.</summary>
    protected List<FederationEngine> Engines { get; } = [];

    /// <summary>The upstream server, where messages are published.</summary>
    protected NatsServerProcess Upstream { get; private set; } = null!;

    /// <summary>The downstream server, which the links federate into.</summary>
    protected NatsServerProcess Downstream { get; private set; } = null!;

    /// <inheritdoc/>
    public async Task InitializeAsync()
    {
        Upstream = await NatsServerProcess.StartJetStreamAsync(upstreamName);
        Downstream = downstreamName is null
            ? await NatsServerProcess.StartJetStreamWithoutNameAsync()
            : await NatsServerProcess.StartJetStreamAsync(downstreamName);
    }

    /// <inheritdoc/>
    public async Task DisposeAsync()
    {
        foreach (var engine in Engines)
        {
            await engine.DisposeAsync();
        }

        await Upstream.DisposeAsync();
        await Downstream.DisposeAsync();
    }
}
