using System.Text.Json;
using System.Text.RegularExpressions;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// A link of RabbitMQ's own federation plugin, configured the way an operator does it: a <c>federation-upstream</c>
/// parameter and a policy set with rabbitmqctl on the downstream node. Every fixture node runs the plugin (see
/// <see cref="RabbitMqNode"/>), so the upstream side has the real <c>x-federation-upstream</c> exchange type.
/// Disposal clears the policy first (which stops the link and deletes its upstream objects), then the parameter.
/// </summary>
internal sealed class PluginFederation : IAsyncDisposable
{
    private readonly RabbitMqNode downstream;
    private readonly string name;

    private PluginFederation(RabbitMqNode downstream, string name)
    {
        this.downstream = downstream;
        this.name = name;
    }

    /// <summary>Federates <paramref name="exchange"/> on <paramref name="downstream"/> from the same-named exchange on <paramref name="upstream"/>.</summary>
    public static async Task<PluginFederation> StartAsync(RabbitMqNode downstream, RabbitMqNode upstream, string exchange, int maxHops)
    {
        var name = "plugin-" + Guid.NewGuid().ToString("N")[..8];
        var definition = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["uri"] = $"amqp://guest:guest@127.0.0.1:{upstream.AmqpPort}",
            ["max-hops"] = maxHops,
            ["reconnect-delay"] = 1,
        });
        var plugin = new PluginFederation(downstream, name);
        await plugin.CtlAsync("set_parameter", "federation-upstream", name, definition);
        await plugin.CtlAsync("set_policy", "--apply-to", "exchanges", name, "^" + Regex.Escape(exchange) + "$", JsonSerializer.Serialize(new Dictionary<string, string> { ["federation-upstream"] = name }));
        return plugin;
    }

    public async ValueTask DisposeAsync()
    {
        await downstream.CtlAsync(CancellationToken.None, "clear_policy", name);
        await downstream.CtlAsync(CancellationToken.None, "clear_parameter", "federation-upstream", name);
    }

    private async Task CtlAsync(params string[] arguments)
    {
        var result = await downstream.CtlAsync(CancellationToken.None, arguments);
        Assert.True(result.ExitCode == 0, $"rabbitmqctl {string.Join(' ', arguments)} failed on {downstream.NodeName}: {result.Output}");
    }
}
