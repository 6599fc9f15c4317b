using System.Globalization;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// A queue's message count (ready + unacknowledged) straight from the node through rabbitmqctl, which, unlike the
/// management API's queue statistics, is not sampled every few seconds.
/// </summary>
internal static class QueueDepth
{
    /// <summary>The count, or -1 when the queue does not exist.</summary>
    public static async Task<int> OfAsync(RabbitMqNode node, string queue)
    {
        var result = await node.CtlAsync(CancellationToken.None, "list_queues", "--no-table-headers", "--quiet", "name", "messages");
        Assert.True(result.ExitCode == 0, result.Output);
        var line = result.Output.Split('\n').SingleOrDefault(l => l.StartsWith(queue + "\t", StringComparison.Ordinal));
        return line is null ? -1 : int.Parse(line.Split('\t').Last().Trim(), CultureInfo.InvariantCulture);
    }
}
