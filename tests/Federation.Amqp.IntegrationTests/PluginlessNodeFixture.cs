using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests;

/// <summary>A RabbitMQ node with no plugins at all: no rabbitmq_management, no rabbitmq_event_exchange, no federation plugin.</summary>
public sealed class PluginlessNodeFixture : IAsyncLifetime
{
    private RabbitMqNode? node;

    public RabbitMqNode Node => node ?? throw new InvalidOperationException("Not started.");

    public async Task InitializeAsync() => node = await RabbitMqNode.StartNewAsync(plugins: []);

    public async Task DisposeAsync()
    {
        if (node is not null)
        {
            await node.DisposeAsync();
        }
    }

    /// <summary>Runs rabbitmqctl and returns its output; fails the test when it fails.</summary>
    public async Task<string> Ctl(params string[] arguments)
    {
        var result = await Node.CtlAsync(CancellationToken.None, arguments);
        Assert.True(result.ExitCode == 0, $"rabbitmqctl {string.Join(' ', arguments)}: {result.Output}");
        return result.Output;
    }
}
