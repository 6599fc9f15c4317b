using System.Text;
using Federation.Core.Collectives;
using Federation.Core.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// Anything that can publish on a cluster's roll-call subject can announce made-up instances (black-box finding: 40,000
/// messages from one npm client on the federation gave every broker instance 20,000 Warning lines, event 4012, 140 MB
/// more memory and a 7.5 MB health description). A cluster has a handful of instances: past a bound the others are
/// ignored, told once (4016) and in the health report, and the report names only the first few problems.
/// </summary>
public sealed class RollCallFloodTests
{
    [Fact]
    public void A_flood_of_made_up_instances_is_bounded_in_memory_in_warnings_and_in_the_health_report()
    {
        using var logs = new CapturingLoggerProvider();
        using var factory = logs.AsFactory();
        var time = new FakeTimeProvider();
        var rollCall = new ClusterRollCall("london", "london-1", "memory://london", "choria.federation.london.instances", factory.CreateLogger("roll-call"), time);

        // Each made-up run heard twice on the federation and never on the collective: a mismatch, were it tracked.
        for (var i = 0; i < 10_000; i++)
        {
            rollCall.Heard(Announcement($"flood{i}", $"run{i}", 1), onFederation: true);
            rollCall.Heard(Announcement($"flood{i}", $"run{i}", 5), onFederation: true);
        }

        Assert.Equal(ClusterRollCall.MaxPeers, logs.WithId(4012).Count);
        Assert.Single(logs.WithId(4016));
        Assert.Equal(LogLevel.Warning, logs.WithId(4016)[0].Level);
        var problem = rollCall.Problem!;
        Assert.True(problem.Length < 8_192, $"the problem description is {problem.Length} characters");
        Assert.Contains("more instances", problem, StringComparison.Ordinal);
        Assert.Contains("ignored", problem, StringComparison.Ordinal);

        // Once the made-up instances are no longer heard they are forgotten, and the overflow ends with them.
        time.Advance(ClusterRollCall.Interval * 4);
        rollCall.Tick(connected: true);
        Assert.Null(rollCall.Problem);
        Assert.Single(logs.WithId(4017));
    }

    private static byte[] Announcement(string instance, string run, long sequence) =>
        Encoding.UTF8.GetBytes($$"""{"instance":"{{instance}}","run":"{{run}}","seq":{{sequence}},"collective":"memory://tokyo","server":"-"}""");
}
