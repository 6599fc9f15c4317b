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

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_broker_known_by_its_pid_file_is_killed_and_cleaned_up_after_when_its_owner_dies(bool pidFileAfterOwnerDied)
    {
        // A RabbitMQ node writes its pid file some way into its boot: a test host killed before then (a CI timeout) used to
        // leave the node running, since the guard was only given the pid once the node had booted.
        var directory = Directory.CreateTempSubdirectory("orphan-guard-").FullName;
        var pidFile = Path.Combine(directory, "broker.pid");
        var marker = Path.Combine(directory, "cleaned-up");
        using var owner = Sleeper();
        using var broker = Sleeper();
        try
        {
            OrphanGuard.WatchPidFile(owner.Id, pidFile, $"touch '{marker}'", TimeSpan.FromSeconds(30));
            if (!pidFileAfterOwnerDied)
            {
                await File.WriteAllTextAsync(pidFile, $"{broker.Id}\n");
            }

            owner.Kill();
            await owner.WaitForExitAsync();
            if (pidFileAfterOwnerDied)
            {
                await File.WriteAllTextAsync(pidFile, $"{broker.Id}\n");
            }

            var deadline = Stopwatch.StartNew();
            while (!(broker.HasExited && File.Exists(marker)))
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(15), "the orphaned broker should be killed by the pid in its file and the cleanup run");
                await Task.Delay(50);
            }
        }
        finally
        {
            if (!broker.HasExited)
            {
                broker.Kill();
            }

            Directory.Delete(directory, recursive: true);
        }
    }

    private static Process Sleeper()
    {
        var start = new ProcessStartInfo("sleep") { UseShellExecute = false };
        start.ArgumentList.Add("300");
        return Process.Start(start) ?? throw new InvalidOperationException("sleep could not be started");
    }
}
