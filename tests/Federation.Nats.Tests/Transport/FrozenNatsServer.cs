using System.Globalization;
using System.Runtime.InteropServices;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// A nats-server that a test can freeze (SIGSTOP) and thaw (SIGCONT): while it is frozen it reads nothing and answers
/// nothing, so a test holds a PONG back for as long as it needs, without a timing guess. The server writes its pid to a
/// file of this object's own (<c>-P</c>); signals go to exactly that pid.
/// </summary>
internal sealed class FrozenNatsServer : IAsyncDisposable
{
    private readonly string _directory;
    private readonly string _pidFile;

    private FrozenNatsServer(string directory, NatsServerProcess server)
    {
        _directory = directory;
        _pidFile = Path.Combine(directory, "nats-server.pid");
        Server = server;
    }

    /// <summary>The server; <see cref="NatsServerProcess.StopAsync"/> kills it (SIGKILL works on a frozen process too).</summary>
    public NatsServerProcess Server { get; }

    /// <summary>Starts a nats-server with <paramref name="extraArgs"/> and a pid file.</summary>
    public static async Task<FrozenNatsServer> StartAsync(params string[] extraArgs)
    {
        var directory = Directory.CreateTempSubdirectory("nats-frozen-").FullName;
        var server = await NatsServerProcess.StartAsync([.. extraArgs, "-P", Path.Combine(directory, "nats-server.pid")]);
        return new FrozenNatsServer(directory, server);
    }

    /// <summary>
    /// Stops the server process and returns once the kernel reports it stopped. The signal goes out within microseconds of
    /// the call (no process is started for it), so a test that starts its clock just before knows when the server stopped
    /// answering, even on a loaded machine.
    /// </summary>
    public async Task FreezeAsync()
    {
        var pid = await PidAsync();
        Signal(SigStop, pid);
        await Eventually.TrueAsync(() => State(pid) == 'T', $"nats-server {pid} to be stopped (SIGSTOP)");
    }

    /// <summary>Lets the server process run again.</summary>
    public async Task ThawAsync()
    {
        var pid = await PidAsync();
        Signal(SigCont, pid);
        await Eventually.TrueAsync(() => State(pid) != 'T', $"nats-server {pid} to run again (SIGCONT)");
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>The pid the running server wrote (a restarted server rewrites the file).</summary>
    private async Task<int> PidAsync()
    {
        var pid = 0;
        await Eventually.TrueAsync(
            () => File.Exists(_pidFile) && int.TryParse(File.ReadAllText(_pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out pid) && State(pid) is not null,
            "the nats-server pid file");
        return pid;
    }

    /// <summary>The process state letter of /proc/PID/stat (R, S, T, ...), or null when there is no such process.</summary>
    private static char? State(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            var close = stat.LastIndexOf(')');
            return close >= 0 && close + 2 < stat.Length ? stat[close + 2] : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    // Linux signal numbers (x86-64 and arm64).
    private const int SigStop = 19;
    private const int SigCont = 18;

    /// <summary>
    /// Sends <paramref name="signal"/> to exactly <paramref name="pid"/>, by the kill system call: starting kill(1) for it
    /// took long enough on a loaded machine (a fork and an exec) that the server answered a lease renewal meanwhile, after
    /// the test's clock had started.
    /// </summary>
    private static void Signal(int signal, int pid) =>
        Assert.True(kill(pid, signal) == 0, $"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
