using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace FederationHost.Tests.BadInput;

/// <summary>
/// The built FederationHost run as its own process (<c>dotnet FederationHost.dll --contentRoot DIR</c>), as an operator
/// runs it: output captured, waits bounded by a deadline, SIGTERM sent with <c>kill -TERM pid</c>, and the process killed
/// by its own handle on dispose if it is still alive. Nothing is ever looked up or killed by name.
/// </summary>
public sealed partial class HostProcessRunner : IAsyncDisposable
{
    // Variables that would change what the host reads; removed so that only the test's appsettings.json counts.
    private static readonly string[] InheritedPrefixesToDrop =
        ["FEDERATION__", "HOST__", "DOWNSTREAM__", "LOGGING__", "URLS", "KESTREL__"];

    private static readonly string[] InheritedVariablesToDrop =
        ["DOTNET_CONTENTROOT", "ASPNETCORE_CONTENTROOT", "ASPNETCORE_URLS", "DOTNET_URLS", "DOTNET_ENVIRONMENT", "ASPNETCORE_ENVIRONMENT"];

    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private HostProcessRunner(Process process)
    {
        _process = process;
    }

    /// <summary>The host's assembly, copied next to the test assembly by the project reference.</summary>
    public static string HostAssemblyPath => Path.Combine(AppContext.BaseDirectory, "FederationHost.dll");

    /// <summary>Everything the host wrote to standard output so far.</summary>
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

    /// <summary>Everything the host wrote to standard error so far.</summary>
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
    public string? ListeningUrl => ListeningLine().Match(StandardOutput) is { Success: true } match ? match.Groups["url"].Value : null;

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Starts the host with <paramref name="contentRoot"/> as its content root (where it reads appsettings.json).</summary>
    public static HostProcessRunner Start(string contentRoot, IEnumerable<string> extraArgs)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = contentRoot,
        };
        start.ArgumentList.Add(HostAssemblyPath);
        start.ArgumentList.Add("--contentRoot");
        start.ArgumentList.Add(contentRoot);
        foreach (var argument in extraArgs)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var key in start.Environment.Keys.ToList())
        {
            if (InheritedVariablesToDrop.Contains(key, StringComparer.OrdinalIgnoreCase) ||
                InheritedPrefixesToDrop.Any(p => key.StartsWith(p, StringComparison.OrdinalIgnoreCase)))
            {
                start.Environment.Remove(key);
            }
        }

        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var runner = new HostProcessRunner(process);
        process.OutputDataReceived += (_, e) => Append(runner._stdout, runner._stdoutClosed, e.Data);
        process.ErrorDataReceived += (_, e) => Append(runner._stderr, runner._stderrClosed, e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException("Could not start " + HostAssemblyPath);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return runner;
    }

    /// <summary>Waits for the process to exit; returns its exit code, or null if it is still running at the deadline.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            return null;
        }

        // The exit is known before the last output lines are delivered; wait (bounded) for both streams to close.
        try
        {
            await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            // A grandchild may hold the pipes open; what was read so far is all there is.
        }

        return _process.ExitCode;
    }

    /// <summary>
    /// Waits until the process exits or <paramref name="condition"/> holds for its output, whichever comes first.
    /// Returns true if the process has exited.
    /// </summary>
    public async Task<bool> WaitForExitOrAsync(Func<HostProcessRunner, bool> condition, TimeSpan deadline)
    {
        var end = DateTime.UtcNow + deadline;
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

            // Wakes on exit at once; otherwise re-checks the output condition periodically until the deadline.
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

    /// <summary>Sends SIGTERM, as a service manager or Ctrl+C would, by process id.</summary>
    public async Task TerminateAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        using var kill = Process.Start(new ProcessStartInfo("kill")
        {
            ArgumentList = { "-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("Could not run kill.");
        await kill.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // Only this process, by its own handle.
            _process.Kill(entireProcessTree: true);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                // Nothing more can be done; the OS reaps it.
            }
        }

        _process.Dispose();
    }

    private static void Append(StringBuilder target, TaskCompletionSource closed, string? line)
    {
        if (line is null)
        {
            closed.TrySetResult();
            return;
        }

        lock (target)
        {
            target.Append(line).Append('\n');
        }
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

    [GeneratedRegex(@"[Ll]istening on:? (?<url>http://[^\s;,]+)")]
    private static partial Regex ListeningLine();
}
