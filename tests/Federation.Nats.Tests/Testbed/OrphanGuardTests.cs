using System.Diagnostics;
using Federation.Testing.Brokers;
using Xunit;

namespace Federation.Nats.Tests.Testbed;

/// <summary>The test bed's guard against brokers outliving a killed test process.</summary>
public sealed class OrphanGuardTests
{
    [Fact]
    public async Task A_broker_whose_owner_dies_is_killed_and_cleaned_up_after()
    {
        var marker = Path.Combine(Path.GetTempPath(), $"orphan-guard-{Guid.NewGuid():N}");
        using var owner = Sleeper();
        using var broker = Sleeper();
        try
        {
            OrphanGuard.Watch(owner.Id, broker.Id, $"touch '{marker}'");
            owner.Kill();
            await owner.WaitForExitAsync();

            var deadline = Stopwatch.StartNew();
            while (!(broker.HasExited && File.Exists(marker)))
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(15), "the orphaned broker should be killed and the cleanup run");
                await Task.Delay(50);
            }
        }
        finally
        {
            if (!broker.HasExited)
            {
                broker.Kill();
            }

            File.Delete(marker);
        }
    }

    private static Process Sleeper()
    {
        var start = new ProcessStartInfo("sleep") { UseShellExecute = false };
        start.ArgumentList.Add("300");
        return Process.Start(start) ?? throw new InvalidOperationException("sleep could not be started");
    }
}
