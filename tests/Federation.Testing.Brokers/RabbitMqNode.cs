using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;

namespace Federation.Testing.Brokers;

/// <summary>
/// A real rabbitmq-server node for integration tests, isolated from anything else on the machine: free ports (AMQP,
/// distribution, management, and its own epmd), a temporary data directory that is also its HOME (so it gets its own
/// Erlang cookie), a unique node name and a unique cluster name (federation loop detection relies on unique cluster names).
/// Plugins: rabbitmq_management, rabbitmq_event_exchange, rabbitmq_federation unless the caller names others. User guest/guest
/// may connect from 127.0.0.1.
/// </summary>
/// <remarks>
/// Set <c>RABBITMQ_BIN_DIR</c> to the directory holding <c>rabbitmq-server</c> and <c>rabbitmqctl</c> to override the lookup
/// (default <c>/usr/lib/rabbitmq/bin</c>, which runs as the current user, unlike the <c>/usr/sbin</c> wrappers, then PATH).
/// Processes are only ever stopped through rabbitmqctl, by the pid in the node's own pid file, or by epmd's own port.
/// </remarks>
public sealed class RabbitMqNode : IAsyncDisposable
{
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);
    private static int counter;

    private readonly string binDirectory;
    private readonly Dictionary<string, string> environment;
    private bool running;

    /// <summary>The plugins every node gets unless the caller names others.</summary>
    public static readonly IReadOnlyList<string> DefaultPlugins = ["rabbitmq_management", "rabbitmq_event_exchange", "rabbitmq_federation"];

    private RabbitMqNode(string binDirectory, string name, IReadOnlyList<string> plugins, IReadOnlyList<string> extraConfiguration)
    {
        this.binDirectory = binDirectory;
        DataDirectory = Directory.CreateTempSubdirectory("fedtest-rabbitmq-").FullName;
        NodeName = $"{name}@localhost";
        ClusterName = $"{name}-cluster";
        AmqpPort = FreePorts.Next();
        ManagementPort = FreePorts.Next();
        DistributionPort = FreePorts.Next();
        EpmdPort = FreePorts.Next();

        var configFile = Path.Combine(DataDirectory, "rabbitmq.conf");
        string[] configuration =
        [
            $"listeners.tcp.default = {AmqpPort}",
            $"management.tcp.port = {ManagementPort}",
            "management.tcp.ip = 127.0.0.1",
            "loopback_users = none",
            "log.console = false",
            .. extraConfiguration,
            string.Empty,
        ];
        File.WriteAllText(configFile, string.Join('\n', configuration));
        var pluginsFile = Path.Combine(DataDirectory, "enabled_plugins");
        File.WriteAllText(pluginsFile, $"[{string.Join(',', plugins)}].\n");
        var envFile = Path.Combine(DataDirectory, "rabbitmq-env.conf");
        File.WriteAllText(envFile, string.Empty);
        PidFile = Path.Combine(DataDirectory, "rabbitmq.pid");

        // The node's Erlang cookie, written before anything runs: otherwise the detached node and the first rabbitmqctl
        // await_startup, started together with the same HOME, both create $HOME/.erlang.cookie when it is missing, each
        // with a random cookie of its own. On a loaded machine the CLI's can replace the node's file after the node read
        // its own, and no rabbitmqctl ever authenticates ("Invalid challenge reply" in the node's log) until the timeout.
        var cookieFile = Path.Combine(DataDirectory, ".erlang.cookie");
        File.WriteAllText(cookieFile, Convert.ToHexString(RandomNumberGenerator.GetBytes(15)));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(cookieFile, UnixFileMode.UserRead); // Erlang refuses a cookie file others can read
        }

        environment = new Dictionary<string, string>
        {
            ["HOME"] = DataDirectory,
            ["RABBITMQ_NODENAME"] = NodeName,
            ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_NODE_PORT"] = AmqpPort.ToString(CultureInfo.InvariantCulture),
            ["RABBITMQ_DIST_PORT"] = DistributionPort.ToString(CultureInfo.InvariantCulture),
            ["ERL_EPMD_PORT"] = EpmdPort.ToString(CultureInfo.InvariantCulture),
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(DataDirectory, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(DataDirectory, "log"),
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = pluginsFile,
            ["RABBITMQ_CONFIG_FILE"] = configFile,
            ["RABBITMQ_ADVANCED_CONFIG_FILE"] = Path.Combine(DataDirectory, "advanced.config"),
            ["RABBITMQ_CONF_ENV_FILE"] = envFile,
            ["RABBITMQ_PID_FILE"] = PidFile,
        };
    }

    /// <summary>The Erlang node name, <c>fedtest…@localhost</c>.</summary>
    public string NodeName { get; }

    /// <summary>The unique cluster name set after startup (the AMQP server property <c>cluster_name</c>).</summary>
    public string ClusterName { get; }

    /// <summary>The AMQP port on 127.0.0.1.</summary>
    public int AmqpPort { get; }

    /// <summary>The management HTTP API port on 127.0.0.1.</summary>
    public int ManagementPort { get; }

    /// <summary>The Erlang distribution port.</summary>
    public int DistributionPort { get; }

    /// <summary>The port of this node's own epmd.</summary>
    public int EpmdPort { get; }

    /// <summary>The node's temporary directory: data, logs, config, pid file.</summary>
    public string DataDirectory { get; }

    /// <summary>The pid file the node writes.</summary>
    public string PidFile { get; }

    /// <summary>Starts a new node and waits until it is fully booted.</summary>
    /// <exception cref="InvalidOperationException">rabbitmq-server is not installed, or the node did not start in time.</exception>
    public static Task<RabbitMqNode> StartNewAsync(CancellationToken cancellationToken = default) => StartNewAsync(DefaultPlugins, cancellationToken);

    /// <summary>Starts a new node with only <paramref name="plugins"/> enabled (none when empty), and waits until it is fully booted.</summary>
    /// <exception cref="InvalidOperationException">rabbitmq-server is not installed, or the node did not start in time.</exception>
    public static Task<RabbitMqNode> StartNewAsync(IReadOnlyList<string> plugins, CancellationToken cancellationToken = default) =>
        StartNewAsync(plugins, [], cancellationToken);

    /// <summary>
    /// Starts a new node with only <paramref name="plugins"/> enabled and <paramref name="extraConfiguration"/> appended to its
    /// rabbitmq.conf (for example a TLS listener: <c>listeners.ssl.1 = 127.0.0.1:PORT</c> and <c>ssl_options.*</c>), and waits until it is fully booted.
    /// </summary>
    /// <exception cref="InvalidOperationException">rabbitmq-server is not installed, or the node did not start in time.</exception>
    public static async Task<RabbitMqNode> StartNewAsync(IReadOnlyList<string> plugins, IReadOnlyList<string> extraConfiguration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plugins);
        ArgumentNullException.ThrowIfNull(extraConfiguration);
        var bin = FindBinDirectory();
        for (var attempt = 1; ; attempt++)
        {
            var name = $"fedtest{Environment.ProcessId}x{Interlocked.Increment(ref counter)}";
            var node = new RabbitMqNode(bin, name, plugins, extraConfiguration);
            try
            {
                await node.StartAsync(cancellationToken).ConfigureAwait(false);
                var cluster = await node.CtlAsync(cancellationToken, "set_cluster_name", node.ClusterName).ConfigureAwait(false);
                if (cluster.ExitCode != 0)
                {
                    throw new InvalidOperationException($"rabbitmqctl set_cluster_name failed on {node.NodeName}: {cluster.Output}");
                }

                return node;
            }
            catch (NodeBootFailedException failure) when (attempt < MaxStartAttempts)
            {
                // Most likely one of the four ports was taken between FreePorts.Next() and the node's bind (an outgoing
                // connection can get any ephemeral port): a new node with new ports and a new name.
                Console.Error.WriteLine($"RabbitMqNode: attempt {attempt} failed, starting a new node with new ports: {failure.Message}");
                await node.DisposeAsync().ConfigureAwait(false);
            }
            catch
            {
                await node.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
    }

    /// <summary>How many new nodes <see cref="StartNewAsync(IReadOnlyList{string}, IReadOnlyList{string}, CancellationToken)"/> tries when a node's boot fails.</summary>
    private const int MaxStartAttempts = 3;

    /// <summary>The node's process ended, or its log says its boot failed, before it finished starting.</summary>
    private sealed class NodeBootFailedException(string message) : InvalidOperationException(message);

    /// <summary>An AMQP URI for this node with the transport's management-port parameter.</summary>
    /// <param name="virtualHost">The vhost (URL-encoded into the path, so <c>/</c> becomes <c>%2F</c>).</param>
    /// <param name="user">User name.</param>
    /// <param name="password">Password.</param>
    public string AmqpUri(string virtualHost = "/", string user = "guest", string password = "guest") =>
        $"amqp://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(password)}@127.0.0.1:{AmqpPort.ToString(CultureInfo.InvariantCulture)}/{Uri.EscapeDataString(virtualHost)}?management-port={ManagementPort.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The AMQP URI without credentials, as the transport displays it.</summary>
    public string DisplayUri(string virtualHost = "/") =>
        $"amqp://127.0.0.1:{AmqpPort.ToString(CultureInfo.InvariantCulture)}/{Uri.EscapeDataString(virtualHost)}?management-port={ManagementPort.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Starts the (stopped) node again with the same data directory and ports, and waits for it to boot.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (running)
        {
            return;
        }

        // A node started again after a stop or a kill: the pid file still names the old process, which has exited, and
        // BootFailed would take that for this boot's failure. The node writes it anew as it boots.
        File.Delete(PidFile);

        // Guarded from before its start, by the pid file it writes early in its boot: a test host killed while the node
        // still boots (kill -9, a CI timeout) left it running with its epmd when the guard came only after await_startup.
        OrphanGuard.WatchPidFile(PidFile, $"{StopEpmdCommand()}; rm -rf '{DataDirectory}'");
        var server = await ProcessRunner.RunAsync(Path.Combine(binDirectory, "rabbitmq-server"), ["-detached"], environment, CommandTimeout, captureOutput: false, cancellationToken).ConfigureAwait(false);
        if (server.ExitCode != 0)
        {
            throw new InvalidOperationException($"rabbitmq-server -detached exited with {server.ExitCode} for {NodeName}. Logs: {Path.Combine(DataDirectory, "log")}");
        }

        running = true;

        // await_startup fails at once while the node is not registered with epmd yet, so poll it until the deadline. Each
        // rabbitmqctl starts an Erlang VM of its own (seconds of wall time on a loaded machine, with the CPU the booting
        // node needs): ask the node's epmd, a small C program, first, until the node is registered.
        var deadline = Stopwatch.StartNew();
        await WaitUntilRegisteredAsync(deadline, cancellationToken).ConfigureAwait(false);
        ProcessRunner.Result last;
        while (true)
        {
            last = await CtlAsync(cancellationToken, "await_startup", "--timeout", "60").ConfigureAwait(false);
            if (last.ExitCode == 0)
            {
                return;
            }

            if (BootFailed() is { } reason)
            {
                throw new NodeBootFailedException($"RabbitMQ node {NodeName} failed to boot ({reason}). Log:\n{LogTail()}");
            }

            if (deadline.Elapsed > StartupTimeout)
            {
                throw new InvalidOperationException($"RabbitMQ node {NodeName} did not start within {StartupTimeout}. Last rabbitmqctl output: {last.Output}\nLog:\n{LogTail()}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits, asking the node's own epmd every 100 ms, until the node is registered there (then rabbitmqctl can reach it),
    /// its boot has failed, or 30 s have gone (then the rabbitmqctl polls go on as they would without this).
    /// </summary>
    private async Task WaitUntilRegisteredAsync(Stopwatch since, CancellationToken cancellationToken)
    {
        var port = EpmdPort.ToString(CultureInfo.InvariantCulture);
        var registered = $"name {NodeName.Split('@')[0]} at port ";
        while (since.Elapsed < TimeSpan.FromSeconds(30) && BootFailed() is null)
        {
            var names = await ProcessRunner.RunAsync("epmd", ["-port", port, "-names"], environment, CommandTimeout, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (names.ExitCode == 0 && names.Output.Contains(registered, StringComparison.Ordinal))
            {
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Stops the node, keeping its data directory, so <see cref="StartAsync"/> can bring it back.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (!running)
        {
            return;
        }

        var pid = ReadPid();
        await CtlAsync(cancellationToken, "stop").ConfigureAwait(false);
        if (pid is { } id)
        {
            await EnsureExitedAsync(id).ConfigureAwait(false);
        }

        running = false;
    }

    /// <summary>
    /// Kills the node abruptly (a crash, no clean shutdown) by the pid in its own pid file, keeping its data directory, so
    /// <see cref="StartAsync"/> brings it back with whatever it had persisted.
    /// </summary>
    /// <exception cref="InvalidOperationException">The node has no pid file.</exception>
    public async Task KillAsync()
    {
        if (!running)
        {
            return;
        }

        var pid = ReadPid() ?? throw new InvalidOperationException($"{NodeName} has no pid file at {PidFile}.");
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().ConfigureAwait(false);
        }
        catch (ArgumentException)
        {
            // Already gone.
        }

        running = false;
    }

    /// <summary>Runs <c>rabbitmqctl -n NODE args…</c> against this node.</summary>
    public Task<ProcessRunner.Result> CtlAsync(CancellationToken cancellationToken, params string[] arguments) =>
        ProcessRunner.RunAsync(Path.Combine(binDirectory, "rabbitmqctl"), ["-n", NodeName, .. arguments], environment, CommandTimeout, cancellationToken: cancellationToken);

    /// <summary>
    /// How many of <paramref name="queue"/>'s messages (in the default vhost) are delivered and not yet acknowledged, or -1
    /// when the node has no such queue. Asked of the queue itself through rabbitmqctl: the management API's figures can be
    /// seconds old.
    /// </summary>
    public async Task<int> UnacknowledgedAsync(string queue, CancellationToken cancellationToken = default)
    {
        var listed = await CtlAsync(cancellationToken, "list_queues", "-q", "--no-table-headers", "name", "messages_unacknowledged");
        var line = listed.Output.Split('\n').Select(l => l.Split('\t')).FirstOrDefault(f => f.Length == 2 && f[0] == queue);
        return line is null ? -1 : int.Parse(line[1].Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>Stops the node, stops its epmd (by port) and deletes its directory.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync().ConfigureAwait(false);
        }
        finally
        {
            if (ReadPid() is { } pid)
            {
                await EnsureExitedAsync(pid).ConfigureAwait(false);
            }

            await StopEpmdAsync().ConfigureAwait(false);
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (IOException)
            {
                // A straggling log writer; the temp directory is harmless.
            }
        }
    }

    /// <summary>How many times, 0.2 s apart, this node's epmd is asked to stop (see <see cref="StopEpmdAsync"/>).</summary>
    private const int EpmdStopAttempts = 25;

    /// <summary>
    /// Stops this node's own epmd, by its port. epmd refuses while a node is registered ("Killing not allowed - living
    /// nodes in database"), and a node that has just ended stays registered until epmd has seen its connection close, so
    /// a single attempt right after the node left epmd running for good: it retries for up to 5 s, until epmd stops or
    /// nothing answers on the port.
    /// </summary>
    private async Task StopEpmdAsync()
    {
        var port = EpmdPort.ToString(CultureInfo.InvariantCulture);
        for (var attempt = 0; attempt < EpmdStopAttempts; attempt++)
        {
            var kill = await ProcessRunner.RunAsync("epmd", ["-port", port, "-kill"], environment, CommandTimeout).ConfigureAwait(false);
            if (kill.ExitCode == 0)
            {
                return;
            }

            var names = await ProcessRunner.RunAsync("epmd", ["-port", port, "-names"], environment, CommandTimeout).ConfigureAwait(false);
            if (names.ExitCode != 0)
            {
                return; // Nothing answers on the port any more.
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// <see cref="StopEpmdAsync"/> as a shell command, for <see cref="OrphanGuard"/>, which runs it right after killing the
    /// node with kill -9: the node is then still registered for a moment, and a single <c>epmd -kill</c> was refused.
    /// </summary>
    private string StopEpmdCommand()
    {
        var port = EpmdPort.ToString(CultureInfo.InvariantCulture);
        return $"for i in $(seq 1 {EpmdStopAttempts.ToString(CultureInfo.InvariantCulture)}); do epmd -port {port} -kill && break; epmd -port {port} -names || break; sleep 0.2; done";
    }

    private static string FindBinDirectory()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("RABBITMQ_BIN_DIR") is { Length: > 0 } configured)
        {
            candidates.Add(configured);
        }

        candidates.Add("/usr/lib/rabbitmq/bin");
        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        foreach (var directory in candidates)
        {
            if (File.Exists(Path.Combine(directory, "rabbitmq-server")) && File.Exists(Path.Combine(directory, "rabbitmqctl")))
            {
                return directory;
            }
        }

        throw new InvalidOperationException(
            "rabbitmq-server is not installed: integration tests need rabbitmq-server (3.10 or later) and rabbitmqctl. " +
            "Install it (Debian/Ubuntu: apt-get install rabbitmq-server) or set RABBITMQ_BIN_DIR to the directory that holds them.");
    }

    /// <summary>
    /// Why the node being started can no longer finish its boot, or null while it still may: its process (by the pid in
    /// its own pid file) has ended, or its log says BOOT FAILED. Without this a node that died at once (a port taken)
    /// was polled for the whole two-minute startup timeout.
    /// </summary>
    private string? BootFailed()
    {
        if (ReadPid() is { } pid)
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                if (process.HasExited)
                {
                    return $"its process {pid.ToString(CultureInfo.InvariantCulture)} has exited";
                }
            }
            catch (ArgumentException)
            {
                return $"its process {pid.ToString(CultureInfo.InvariantCulture)} has exited";
            }
        }

        return LogText().Contains("BOOT FAILED", StringComparison.Ordinal) ? "its log says BOOT FAILED" : null;
    }

    /// <summary>The node's log files, concatenated (empty when it has written none yet).</summary>
    private string LogText()
    {
        var directory = Path.Combine(DataDirectory, "log");
        if (!Directory.Exists(directory))
        {
            return string.Empty;
        }

        var text = new System.Text.StringBuilder();
        foreach (var file in Directory.EnumerateFiles(directory, "*.log"))
        {
            try
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var reader = new StreamReader(stream);
                text.Append(reader.ReadToEnd());
            }
            catch (IOException)
            {
                // Being rotated or removed: the next poll reads it.
            }
        }

        return text.ToString();
    }

    /// <summary>
    /// For a failure message (the data directory is deleted with the node): the node's log from its BOOT FAILED report on
    /// (at most 80 lines; the reason follows it), else its last 40 lines.
    /// </summary>
    private string LogTail()
    {
        var lines = LogText().Split('\n');
        var bootFailed = Array.FindIndex(lines, line => line.Contains("BOOT FAILED", StringComparison.Ordinal));
        return bootFailed >= 0
            ? string.Join('\n', lines.Skip(bootFailed).Take(80))
            : string.Join('\n', lines.Skip(Math.Max(0, lines.Length - 40)));
    }

    private int? ReadPid()
    {
        try
        {
            return int.TryParse(File.ReadAllText(PidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static async Task EnsureExitedAsync(int pid)
    {
        Process process;
        try
        {
            process = Process.GetProcessById(pid);
        }
        catch (ArgumentException)
        {
            return; // Already gone.
        }

        using (process)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The node's own pid from its own pid file: never anything found by name.
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().ConfigureAwait(false);
            }
        }
    }
}
