using System.Collections.Concurrent;
using System.Globalization;

namespace Federation.Core.Collectives;

/// <summary>
/// The instance name of a broker whose options name none: <c>&lt;machine&gt;-&lt;name&gt;-&lt;pid&gt;</c>, and
/// <c>-2</c>, <c>-3</c>... for further instances of the same name in one process. The machine and the name alone
/// (<c>&lt;machine&gt;-&lt;name&gt;</c>, the former default) were the same for two processes started with one configuration
/// on one machine: their seen-by hops, connection names and metrics could not be told apart. Nothing keeps an instance
/// name across restarts (the cluster's state travels in the messages), so the process id costs nothing.
/// </summary>
internal static class DefaultBrokerInstanceName
{
    private static readonly ConcurrentDictionary<string, int> s_taken = new(StringComparer.Ordinal);

    /// <summary>The name for the next instance without one named after <paramref name="name"/> (a registration or cluster name).</summary>
    public static string Next(string name)
    {
        var number = s_taken.AddOrUpdate(name, 1, (_, taken) => taken + 1);
        var unique = $"{Environment.MachineName}-{name}-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";
        return number == 1 ? unique : $"{unique}-{number.ToString(CultureInfo.InvariantCulture)}";
    }
}
