using Federation.Testing.Brokers;

namespace Federation.Nats.Tests;

/// <summary>One shared nats-server for the tests that do not restart it or need authentication.</summary>
public sealed class NatsServerFixture : IAsyncLifetime
{
    public NatsServerProcess Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await NatsServerProcess.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
