using System.Diagnostics;
using System.Globalization;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// Freezes a RabbitMQ node as a hung broker looks from outside (SIGSTOP: its sockets stay open, nothing answers) and
/// thaws it (SIGCONT). Thaw in the test's disposal: a node left stopped would hang every later test on it.
/// </summary>
internal sealed class FrozenNode
{
    private int? _frozenPid;

    /// <summary>Stops <paramref name="node"/>'s process and waits until the kernel says it is stopped.</summary>
    public async Task FreezeAsync(RabbitMqNode node, string role)
    {
        var pid = int.Parse(File.ReadAllText(node.PidFile).Trim(), CultureInfo.InvariantCulture);
        _frozenPid = pid;
        await SignalAsync("STOP", pid);
        await Poll.UntilAsync(() => Task.FromResult<object?>(State(pid) == 'T' ? true : null), $"the {role} node {pid} to be stopped (SIGSTOP)");
    }

    /// <summary>Lets the frozen node run again; nothing when none is frozen.</summary>
    public async Task ThawAsync()
    {
        if (_frozenPid is { } pid)
        {
            _frozenPid = null;
            await SignalAsync("CONT", pid);
        }
    }

    private static async Task SignalAsync(string signal, int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", $"-{signal} {pid}") { UseShellExecute = false }) ?? throw new InvalidOperationException("kill did not start");
        await kill.WaitForExitAsync();
    }

    // The third field of /proc/<pid>/stat after the parenthesised name: 'T' once the process is stopped.
    private static char State(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..][0];
    }
}
