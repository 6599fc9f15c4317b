using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests.Collectives;

/// <summary>
/// A vhost of its own on a node, standing in for a member collective's server: a broker instance may not have one message
/// bus (one vhost) on both sides, and a test on one node gives its collective another vhost.
/// </summary>
internal static class CollectiveVhost
{
    /// <summary>Creates vhost <paramref name="name"/> on <paramref name="node"/>, open to guest, and returns its URI.</summary>
    public static async Task<string> CreateAsync(RabbitMqNode node, string name)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        Assert.Equal(0, (await node.CtlAsync(timeout.Token, "add_vhost", name)).ExitCode);
        Assert.Equal(0, (await node.CtlAsync(timeout.Token, "set_permissions", "-p", name, "guest", ".*", ".*", ".*")).ExitCode);
        return node.AmqpUri(name);
    }
}
