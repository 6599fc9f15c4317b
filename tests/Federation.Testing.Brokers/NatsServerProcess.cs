using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Federation.Testing.Brokers;

/// <summary>
/// A real <c>nats-server</c> child process on free loopback ports. Stopping kills exactly this process (by its
/// <see cref="Process"/> object), never anything found by name. The binary is $NATS_SERVER_BIN, /usr/sbin/nats-server
/// or nats-server on PATH.
/// </summary>
public sealed class NatsServerProcess : IAsyncDisposable
{
    // Between two checks of a deadline-bounded poll; never a wait for the behaviour itself.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    private readonly string[] _extraArgs;
    private readonly StringBuilder _log = new();
    private Process? _process;

    private NatsServerProcess(string[] extraArgs)
    {
        _extraArgs = extraArgs;
        Port = FreePort();
        MonitorPort = FreePort();
    }

    public int Port { get; private set; }

    public int MonitorPort { get; private set; }

    public string Url => $"nats://127.0.0.1:{Port}";

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public static string Executable =>
        Environment.GetEnvironmentVariable("NATS_SERVER_BIN") is { Length: > 0 } configured ? configured
        : File.Exists("/usr/sbin/nats-server") ? "/usr/sbin/nats-server"
        : "nats-server";

    /// <summary>The JetStream store directory of a server started with <see cref="StartJetStreamAsync"/>, kept across restarts.</summary>
    public string? StoreDirectory { get; private init; }

    /// <summary>
    /// Starts a nats-server named <paramref name="name"/> with JetStream (<c>-js -sd DIR</c>) in a new temporary store
    /// directory, which <see cref="RestartAsync"/> keeps and <see cref="DisposeAsync"/> deletes. A null name starts it
    /// without <c>-n</c>: the server is then named after its <c>server_id</c>, which is new on every start.
    /// </summary>
    public static async Task<NatsServerProcess> StartJetStreamAsync(string? name, params string[] extraArgs)
    {
        var store = Directory.CreateTempSubdirectory("nats-js-").FullName;
        try
        {
            string[] naming = name is null ? [] : ["-n", name];
            return await StartAsync(store, [.. naming, "-js", "-sd", store, .. extraArgs]);
        }
        catch
        {
            Directory.Delete(store, recursive: true);
            throw;
        }
    }

    /// <summary>
    /// Starts a nats-server with JetStream but without <c>-n</c>, as many deployments run it: it then reports its
    /// <c>server_id</c> as <c>server_name</c>, and that id is new at every start, even on the same store directory.
    /// </summary>
    public static async Task<NatsServerProcess> StartJetStreamWithoutNameAsync(params string[] extraArgs)
    {
        var store = Directory.CreateTempSubdirectory("nats-js-").FullName;
        try
        {
            return await StartAsync(store, ["-js", "-sd", store, .. extraArgs]);
        }
        catch
        {
            Directory.Delete(store, recursive: true);
            throw;
        }
    }

    public static Task<NatsServerProcess> StartAsync(params string[] extraArgs) => StartAsync(storeDirectory: null, extraArgs);

    private static async Task<NatsServerProcess> StartAsync(string? storeDirectory, string[] extraArgs)
    {
        var server = new NatsServerProcess(extraArgs) { StoreDirectory = storeDirectory };
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await server.StartAsync();
                return server;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                // most likely a port taken between FreePort() and the server's bind: pick new ports
                server.Port = FreePort();
                server.MonitorPort = FreePort();
            }
        }
    }

    public async Task StartAsync()
    {
        if (_process is not null)
        {
            throw new InvalidOperationException("Already running.");
        }

        var start = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-a", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-m", MonitorPort.ToString(System.Globalization.CultureInfo.InvariantCulture) }.Concat(_extraArgs))
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {Executable}.");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        OrphanGuard.Watch(process.Id);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            if (process.HasExited)
            {
                _process = null;
                var code = process.ExitCode;
                process.Dispose();
                throw new InvalidOperationException($"nats-server exited with {code}: {Log}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(PollInterval);
            }
        }
    }

    /// <summary>Stops the server with SIGKILL (<see cref="Process.Kill()"/>); <see cref="StartAsync()"/> starts it again on the same ports and store.</summary>
    public async Task StopAsync()
    {
        if (_process is not { } process)
        {
            return;
        }

        _process = null;
        if (!process.HasExited)
        {
            process.Kill();
        }

        await process.WaitForExitAsync();
        process.Dispose();
    }

    /// <summary>
    /// kill -9: SIGKILL to this process by its own handle (what <see cref="Process.Kill()"/> sends on Unix), so the server
    /// closes no connection cleanly and clients only see their sockets die. <see cref="StartAsync()"/> then starts it
    /// again on the same <see cref="Port"/> and <see cref="MonitorPort"/>, as a service manager restarting it would.
    /// </summary>
    public Task KillAsync() => StopAsync();

    /// <summary>
    /// Has the running server read its configuration file again (<c>nats-server --signal reload=PID</c>, this process's
    /// own id), as an operator's reload does: connections stay open and take the new permissions.
    /// </summary>
    public async Task ReloadAsync()
    {
        var process = _process ?? throw new InvalidOperationException("Not running.");
        var result = await ProcessRunner.RunAsync(Executable, ["--signal", $"reload={process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)}"], new Dictionary<string, string>(), TimeSpan.FromSeconds(15));
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"nats-server --signal reload failed ({result.ExitCode}): {result.Output}");
        }
    }

    public async Task RestartAsync()
    {
        await StopAsync();
        await StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (StoreDirectory is not null && Directory.Exists(StoreDirectory))
        {
            Directory.Delete(StoreDirectory, recursive: true);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
        }
    }
}
