using System.Diagnostics;
using System.Globalization;

namespace Federation.Testing.Brokers;

/// <summary>
/// Kills a broker process that its test process can no longer stop: a test host that crashed (a stack overflow, say)
/// or was killed with kill -9 runs no dispose, and a killed test run used to leave RabbitMQ nodes and nats-servers
/// running until the machine rebooted.
/// </summary>
/// <remarks>
/// A small shell of its own session (<c>setsid</c>, so that nothing aimed at the test's process group reaches it) checks
/// once a second that both processes live. When the broker ends first (stopped by its test), the watch just ends. When
/// the owner ends first, it kills the broker by the pid it was given (never by name) and runs the cleanup command.
/// </remarks>
public static class OrphanGuard
{
    /// <summary>Watches <paramref name="brokerPid"/> on behalf of this process.</summary>
    /// <param name="brokerPid">The broker's pid.</param>
    /// <param name="cleanup">A shell command to run after killing it (e.g. stopping its epmd by port), or null.</param>
    public static void Watch(int brokerPid, string? cleanup = null) => Watch(Environment.ProcessId, brokerPid, cleanup);

    /// <summary>Watches <paramref name="brokerPid"/> on behalf of <paramref name="ownerPid"/>.</summary>
    /// <param name="ownerPid">The process whose end orphans the broker.</param>
    /// <param name="brokerPid">The broker's pid.</param>
    /// <param name="cleanup">A shell command to run after killing it, or null.</param>
    public static void Watch(int ownerPid, int brokerPid, string? cleanup = null)
    {
        var owner = ownerPid.ToString(CultureInfo.InvariantCulture);
        var broker = brokerPid.ToString(CultureInfo.InvariantCulture);

        // Its own output goes nowhere: holding the test host's pipes open would keep `dotnet test` waiting.
        var script =
            "exec </dev/null >/dev/null 2>&1; " +
            $"while kill -0 {owner} && kill -0 {broker}; do sleep 1; done; " +
            $"if ! kill -0 {owner}; then kill -9 {broker}; {cleanup ?? "true"}; fi";
        var start = new ProcessStartInfo("setsid") { UseShellExecute = false };
        foreach (var argument in new[] { "sh", "-c", script })
        {
            start.ArgumentList.Add(argument);
        }

        using var watcher = Process.Start(start);
    }
}
