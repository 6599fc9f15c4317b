using Federation.Testing.Brokers;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// A RabbitMQ node's log, for tests that assert what the node did not log: a channel error of the test's own marks the
/// point up to which the log is complete (one logger writes it in order), so absence is read without a fixed wait.
/// </summary>
internal static class NodeLog
{
    /// <summary>Causes a channel error naming <paramref name="marker"/> on <paramref name="node"/>, and returns the node's log once it shows it.</summary>
    public static async Task<string> ThroughMarkerAsync(RabbitMqNode node, string marker)
    {
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{node.AmqpPort}/") };
        await using (var connection = await factory.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            await Assert.ThrowsAnyAsync<Exception>(async () => await channel.ExchangeDeclarePassiveAsync(marker));
        }

        return await Poll.UntilAsync(
            () => Task.FromResult(Read(node) is { } text && text.Contains(marker, StringComparison.Ordinal) ? text : null),
            $"the log of node {node.NodeName} shows the test's own channel error");
    }

    /// <summary>The channel errors in <paramref name="log"/> that name <paramref name="name"/>, the marker's excepted.</summary>
    public static List<string> ChannelErrorsNaming(string log, string name, string marker) =>
        log.Split('\n')
            .Where(line => line.Contains("channel exception", StringComparison.Ordinal) && line.Contains(name, StringComparison.Ordinal) && !line.Contains(marker, StringComparison.Ordinal))
            .ToList();

    private static string? Read(RabbitMqNode node)
    {
        var directory = Path.Combine(node.DataDirectory, "log");
        if (!Directory.Exists(directory))
        {
            return null;
        }

        var text = new System.Text.StringBuilder();
        foreach (var file in Directory.EnumerateFiles(directory, "*.log"))
        {
            // The node writes on; share the file with it.
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            text.Append(reader.ReadToEnd());
        }

        return text.ToString();
    }
}
