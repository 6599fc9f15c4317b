using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace FederationHost.Tests;

/// <summary>
/// The built FederationHost run as an operator runs it: <c>dotnet FederationHost.dll --contentRoot DIR</c> as a child
/// process, with its stdout and stderr captured. Waits have deadlines; SIGTERM is sent with <c>kill -TERM pid</c>;
/// <see cref="DisposeAsync"/> kills the process by its own handle (never by name) if it still runs, and deletes a
/// content root it created.
/// </summary>
public sealed partial class HostProcess : IAsyncDisposable
{
    /// <summary>How long a start, a stop or an exit may take on a busy machine.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    // Variables of the test process that would change what the child reads; removed so that only the test's
    // appsettings.json, arguments and environment count.
    private static readonly string[] ConfigurationVariablePrefixes =
        ["FEDERATION__", "FEDERATIONBROKERS__", "HOST__", "DOWNSTREAM__", "LOGGING__", "KESTREL__", "URLS", "DOTNET_CONTENTROOT", "ASPNETCORE_CONTENTROOT", "ASPNETCORE_URLS", "DOTNET_URLS"];

    private static readonly string[] ConfigurationVariables = ["DOTNET_ENVIRONMENT", "ASPNETCORE_ENVIRONMENT"];

    // The exit is known before the last output lines are delivered; this bounds the wait for the streams to close.
    private static readonly TimeSpan OutputDrainTimeout = TimeSpan.FromSeconds(5);

    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TemporaryDirectory? _ownedContentRoot;

    private HostProcess(Process process, string contentRoot, TemporaryDirectory? ownedContentRoot)
    {
        _process = process;
        ContentRoot = contentRoot;
        _ownedContentRoot = ownedContentRoot;
    }

    /// <summary>The FederationHost.dll copied next to the tests by the project reference.</summary>
    public static string HostAssembly => Path.Combine(AppContext.BaseDirectory, "FederationHost.dll");

    /// <summary>The directory passed as <c>--contentRoot</c>, where appsettings.json is read.</summary>
    public string ContentRoot { get; }

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Everything written to stdout so far.</summary>
    public string StandardOutput
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    /// <summary>Everything written to stderr so far.</summary>
    public string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>The URL the host reports once it listens (its own start line, or the framework's), null before that.</summary>
    public string? ListeningUrl => ListeningPattern().Match(StandardOutput) is { Success: true } match ? match.Groups["url"].Value : null;

    /// <summary>Writes <paramref name="appSettingsJson"/> as appsettings.json into a new temporary content root and starts the host there.</summary>
    /// <param name="appSettingsJson">The file's exact content (it may be invalid on purpose).</param>
    /// <param name="args">More command-line arguments.</param>
    /// <param name="environment">Environment variables to set (null removes one).</param>
    public static HostProcess Start(string appSettingsJson, IEnumerable<string>? args = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var directory = new TemporaryDirectory("federation-host-process-");
        try
        {
            File.WriteAllText(directory.File("appsettings.json"), appSettingsJson);
            return Start(directory.Path, args, environment, ownedContentRoot: directory);
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    /// <summary>Starts the host with <c>--contentRoot <paramref name="contentRoot"/></c>; the directory is left as it is.</summary>
    /// <param name="contentRoot">An existing directory.</param>
    /// <param name="args">More command-line arguments.</param>
    /// <param name="environment">Environment variables to set (null removes one).</param>
    public static HostProcess StartIn(string contentRoot, IEnumerable<string>? args = null, IReadOnlyDictionary<string, string?>? environment = null) =>
        Start(contentRoot, args, environment, ownedContentRoot: null);

    /// <summary>
    /// Runs a host subcommand (<c>validate</c>, <c>status</c>, <c>restart</c>): <paramref name="args"/> are passed exactly
    /// as given, first, with no <c>--contentRoot</c> in front; <paramref name="workingDirectory"/> is left as it is.
    /// </summary>
    public static HostProcess StartCommand(string workingDirectory, params string[] args) =>
        Start(workingDirectory, args, environment: null, ownedContentRoot: null, contentRootArgument: false);

    /// <summary>Waits for the process to exit and returns its exit code; fails the test (and kills it) after the deadline.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        if (await TryWaitForExitAsync(timeout ?? DefaultTimeout) is { } exitCode)
        {
            return exitCode;
        }

        Kill();
        Assert.Fail($"FederationHost (pid {Id}) did not exit within {timeout ?? DefaultTimeout}.\n{Describe()}");
        return -1;
    }

    /// <summary>
    /// Waits for the process to exit; returns its exit code, or null if it is still running at the deadline (it is
    /// left running, so that the caller can report a hang in its own words).
    /// </summary>
    public async Task<int?> TryWaitForExitAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            return null;
        }

        try
        {
            await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(OutputDrainTimeout);
        }
        catch (TimeoutException)
        {
            // A grandchild may hold the pipes open; what was read so far is all there is.
        }

        return _process.ExitCode;
    }

    /// <summary>
    /// Waits until the process exits or <paramref name="condition"/> holds, whichever comes first. Returns true if the
    /// process has exited; false if the condition held first or the deadline passed with the process still running.
    /// </summary>
    public async Task<bool> WaitForExitOrAsync(Func<HostProcess, bool> condition, TimeSpan timeout)
    {
        var end = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < end)
        {
            if (_process.HasExited)
            {
                return true;
            }

            if (condition(this))
            {
                return false;
            }

            // Wakes on exit at once; otherwise re-checks the condition periodically until the deadline.
            using var slice = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
            try
            {
                await _process.WaitForExitAsync(slice.Token);
            }
            catch (OperationCanceledException)
            {
                // Not exited yet: check the condition again.
            }
        }

        return _process.HasExited;
    }

    /// <summary>Waits until the host logs the URL it listens on and returns it; throws if the host exits first.</summary>
    public async Task<Uri> WaitForListeningAsync(TimeSpan? timeout = null)
    {
        var url = await Eventually.UntilAsync(
            () => Task.FromResult(ListeningUrl),
            u => u is not null || HasExited,
            "FederationHost to log the URL it listens on",
            timeout ?? DefaultTimeout);
        return url is not null ? new Uri(url) : throw new InvalidOperationException($"FederationHost exited before listening.\n{Describe()}");
    }

    /// <summary>Waits until stdout or stderr contains <paramref name="text"/> (a log line, for example); fails after the deadline.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan? timeout = null) =>
        await Eventually.UntilAsync(
            () => Task.FromResult(StandardOutput.Contains(text, StringComparison.Ordinal) || StandardError.Contains(text, StringComparison.Ordinal)),
            found => found,
            $"FederationHost to write \"{text}\"",
            timeout ?? DefaultTimeout);

    /// <summary>Replaces appsettings.json in the content root, as an operator editing the file does (the host reloads it).</summary>
    public Task WriteAppSettingsAsync(string content) => File.WriteAllTextAsync(Path.Combine(ContentRoot, "appsettings.json"), content);

    /// <summary>Sends SIGTERM by process id, as a service manager or Ctrl+C does to stop the host; nothing if it has exited.</summary>
    public async Task TerminateAsync()
    {
        if (HasExited)
        {
            return;
        }

        using var kill = Process.Start(new ProcessStartInfo("kill")
        {
            ArgumentList = { "-TERM", Id.ToString(CultureInfo.InvariantCulture) },
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("Could not run kill.");
        await kill.WaitForExitAsync();
    }

    /// <summary>Lines that look like a .NET stack trace frame (<c>   at Namespace.Type.Method(...)</c>).</summary>
    public static IReadOnlyList<string> StackTraceLines(string output) =>
        [.. output.Split('\n').Where(l => StackFramePattern().IsMatch(l))];

    /// <summary>The exit code (or that it runs) and the output, for failure messages.</summary>
    public string Describe() => $"exit: {(HasExited ? _process.ExitCode.ToString(CultureInfo.InvariantCulture) : "running")}\n--- stdout ---\n{StandardOutput}\n--- stderr ---\n{StandardError}";

    public async ValueTask DisposeAsync()
    {
        if (!HasExited)
        {
            Kill();
            using var deadline = new CancellationTokenSource(DefaultTimeout);
            try
            {
                await _process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                // Nothing more can be done; the OS reaps it.
            }
        }

        _process.Dispose();
        _ownedContentRoot?.Dispose();
    }

    private static HostProcess Start(
        string contentRoot,
        IEnumerable<string>? args,
        IReadOnlyDictionary<string, string?>? environment,
        TemporaryDirectory? ownedContentRoot,
        bool contentRootArgument = true)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = contentRoot,
        };
        start.ArgumentList.Add(HostAssembly);
        if (contentRootArgument)
        {
            start.ArgumentList.Add("--contentRoot");
            start.ArgumentList.Add(contentRoot);
        }

        foreach (var argument in args ?? [])
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var name in start.Environment.Keys.ToList())
        {
            if (ConfigurationVariables.Contains(name, StringComparer.OrdinalIgnoreCase) ||
                ConfigurationVariablePrefixes.Any(p => name.StartsWith(p, StringComparison.OrdinalIgnoreCase)))
            {
                start.Environment.Remove(name);
            }
        }

        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var host = new HostProcess(process, contentRoot, ownedContentRoot);
        process.OutputDataReceived += (_, e) => Append(host._stdout, host._stdoutClosed, e.Data);
        process.ErrorDataReceived += (_, e) => Append(host._stderr, host._stderrClosed, e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException("Could not start dotnet " + HostAssembly);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    // The muxer that runs this test (dotnet test sets DOTNET_HOST_PATH), else the current process if it is the muxer.
    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath))
        {
            return hostPath;
        }

        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            return self;
        }

        return "dotnet";
    }

    private void Kill()
    {
        try
        {
            // This process by its own handle, never anything found by name.
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }
    }

    private static void Append(StringBuilder buffer, TaskCompletionSource closed, string? line)
    {
        if (line is null)
        {
            closed.TrySetResult();
            return;
        }

        lock (buffer)
        {
            buffer.Append(line).Append('\n');
        }
    }

    // The host's own start line ("Federation host listening on URL; ...") or the framework's ("Now listening on: URL").
    [GeneratedRegex(@"[Ll]istening on:? (?<url>http://[^\s;,]+)")]
    private static partial Regex ListeningPattern();

    [GeneratedRegex(@"^\s+at \S+")]
    private static partial Regex StackFramePattern();
}
