using Federation.Core.InMemory;

namespace FederationHost.Tests.BadInput;

/// <summary>
/// What a refused reload must leave exactly as it was: every link with its id, state and since-timestamp (a restart
/// changes the timestamp), and the upstream queues on the upstream broker (deleting them loses buffered messages).
/// </summary>
/// <param name="Links">Each link as <c>id state since</c>.</param>
/// <param name="UpstreamQueues">The federation queues on the upstream broker.</param>
public sealed record RunningState(IReadOnlyList<string> Links, IReadOnlyList<string> UpstreamQueues)
{
    public static async Task<RunningState> CaptureAsync(RunningHost host, string upstreamBroker)
    {
        var links = (await host.GetLinksAsync())
            .Select(l => $"{l.GetProperty("id").GetString()} {l.GetProperty("state").GetString()} {l.GetProperty("since").GetString()}")
            .Order(StringComparer.Ordinal)
            .ToList();
        var queues = host.Brokers.TryGet(upstreamBroker, out var broker)
            ? broker.GetQueueNames(InMemoryBroker.DefaultVirtualHost).Where(q => q.StartsWith("federation: ", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList()
            : [];
        return new RunningState(links, queues);
    }

    public bool SameAs(RunningState other) =>
        Links.SequenceEqual(other.Links, StringComparer.Ordinal) && UpstreamQueues.SequenceEqual(other.UpstreamQueues, StringComparer.Ordinal);

    public override string ToString() => $"links [{string.Join(", ", Links)}], upstream queues [{string.Join(", ", UpstreamQueues)}]";
}
