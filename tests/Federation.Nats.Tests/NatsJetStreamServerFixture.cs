using Federation.Testing.Brokers;

namespace Federation.Nats.Tests;

/// <summary>One shared nats-server with JetStream (a store directory of its own, kept across restarts) for the tests of a class.</summary>
public sealed class NatsJetStreamServerFixture : IAsyncLifetime
{
    public NatsServerProcess Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await NatsServerProcess.StartJetStreamAsync("js-shared");

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
