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

    /// <summary>
    /// Watches, on behalf of this process, the broker whose pid <paramref name="pidFile"/> will name: a node started
    /// detached (<c>rabbitmq-server -detached</c>) writes it only some time into its boot, and a test host killed before
    /// then used to leave the node and its epmd running.
    /// </summary>
    /// <param name="pidFile">The file the broker writes its pid to; its directory is the broker's own.</param>
    /// <param name="cleanup">A shell command to run after killing it (or after giving up on the pid), or null.</param>
    public static void WatchPidFile(string pidFile, string? cleanup = null) =>
        WatchPidFile(Environment.ProcessId, pidFile, cleanup, TimeSpan.FromSeconds(60));

    /// <summary>Watches the broker whose pid <paramref name="pidFile"/> will name, on behalf of <paramref name="ownerPid"/>.</summary>
    /// <param name="ownerPid">The process whose end orphans the broker.</param>
    /// <param name="pidFile">The file the broker writes its pid to. The watch ends when its directory is gone (the owner
    /// cleaned up after a failed start).</param>
    /// <param name="cleanup">A shell command to run after killing it, or null.</param>
    /// <param name="pidWithin">How long to wait for the pid file once the owner has ended: a node still booting writes it
    /// late, and is killed then. Past that the cleanup runs anyway (the node may have left an epmd).</param>
    /// <remarks>
    /// While the owner lives, the shell waits for the pid file (or for its directory to go), then watches the pid as
    /// <see cref="Watch(int, int, string?)"/> does. When the owner ends first, it waits up to <paramref name="pidWithin"/>
    /// for the pid, kills that process if it came, and runs the cleanup unless the directory is gone.
    /// </remarks>
    public static void WatchPidFile(int ownerPid, string pidFile, string? cleanup, TimeSpan pidWithin)
    {
        ArgumentException.ThrowIfNullOrEmpty(pidFile);
        var owner = ownerPid.ToString(CultureInfo.InvariantCulture);
        var file = Quote(pidFile);
        var directory = Quote(Path.GetDirectoryName(Path.GetFullPath(pidFile))!);
        var seconds = Math.Max(1, (int)Math.Ceiling(pidWithin.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

        // pid: the file's content once it is a whole number (a half-written file reads as nothing yet).
        var script =
            "exec </dev/null >/dev/null 2>&1; " +
            $"pid() {{ p=$(cat {file} 2>/dev/null); case $p in ''|*[!0-9]*) return 1;; esac; echo $p; }}; " +
            $"while kill -0 {owner} && ! pid && [ -d {directory} ]; do sleep 1; done; " +
            $"if kill -0 {owner}; then " +
            $"  b=$(pid) || exit 0; " +
            $"  while kill -0 {owner} && kill -0 $b; do sleep 1; done; " +
            $"  if kill -0 {owner}; then exit 0; fi; " +
            $"  kill -9 $b; " +
            "else " +
            $"  i=0; while ! pid && [ -d {directory} ] && [ $i -lt {seconds} ]; do sleep 1; i=$((i+1)); done; " +
            $"  [ -d {directory} ] || exit 0; " +
            $"  if b=$(pid); then kill -9 $b; fi; " +
            "fi; " +
            $"{cleanup ?? "true"}";
        var start = new ProcessStartInfo("setsid") { UseShellExecute = false };
        foreach (var argument in new[] { "sh", "-c", script })
        {
            start.ArgumentList.Add(argument);
        }

        using var watcher = Process.Start(start);
    }

    private static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
