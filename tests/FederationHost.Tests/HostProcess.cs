using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace FederationHost.Tests;

/// <summary>
/// The built FederationHost run as an operator runs it: <c>dotnet FederationHost.dll --contentRoot DIR</c> as a child
/// process, with its stdout and stderr captured. Waits have deadlines; <see cref="DisposeAsync"/> kills the process by
/// its own handle (never by name) if it still runs, and deletes a content root it created.
/// </summary>
public sealed partial class HostProcess : IAsyncDisposable
{
    /// <summary>How long a start, a stop or an exit may take on a busy machine.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    // Variables of the test process that would change the child's configuration.
    private static readonly string[] ConfigurationVariablePrefixes =
        ["FEDERATION__", "HOST__", "DOWNSTREAM__", "LOGGING__", "DOTNET_CONTENTROOT", "ASPNETCORE_CONTENTROOT", "ASPNETCORE_URLS", "DOTNET_URLS"];

    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly bool _ownsContentRoot;

    private HostProcess(Process process, string contentRoot, bool ownsContentRoot)
    {
        _process = process;
        ContentRoot = contentRoot;
        _ownsContentRoot = ownsContentRoot;
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

    /// <summary>Writes <paramref name="appSettingsJson"/> as appsettings.json into a new temporary content root and starts the host there.</summary>
    /// <param name="appSettingsJson">The file's exact content (it may be invalid on purpose).</param>
    /// <param name="args">More command-line arguments.</param>
    /// <param name="environment">Environment variables to set (null removes one).</param>
    public static HostProcess Start(string appSettingsJson, IEnumerable<string>? args = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var directory = Directory.CreateTempSubdirectory("federation-host-process-").FullName;
        File.WriteAllText(Path.Combine(directory, "appsettings.json"), appSettingsJson);
        return StartIn(directory, args, environment, ownsContentRoot: true);
    }

    /// <summary>Starts the host with <c>--contentRoot <paramref name="contentRoot"/></c>.</summary>
    /// <param name="contentRoot">An existing directory; it is not deleted unless <paramref name="ownsContentRoot"/>.</param>
    /// <param name="args">More command-line arguments.</param>
    /// <param name="environment">Environment variables to set (null removes one).</param>
    /// <param name="ownsContentRoot">Whether <see cref="DisposeAsync"/> deletes <paramref name="contentRoot"/>.</param>
    public static HostProcess StartIn(string contentRoot, IEnumerable<string>? args = null, IReadOnlyDictionary<string, string?>? environment = null, bool ownsContentRoot = false)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = contentRoot,
        };
        start.ArgumentList.Add(HostAssembly);
        start.ArgumentList.Add("--contentRoot");
        start.ArgumentList.Add(contentRoot);
        foreach (var argument in args ?? [])
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var name in start.Environment.Keys.ToList())
        {
            if (ConfigurationVariablePrefixes.Any(p => name.StartsWith(p, StringComparison.OrdinalIgnoreCase)))
            {
                start.Environment.Remove(name);
            }
        }

        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start };
        var host = new HostProcess(process, contentRoot, ownsContentRoot);
        process.OutputDataReceived += (_, e) => Append(host._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(host._stderr, e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException("Could not start dotnet " + HostAssembly);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    /// <summary>Waits for the process to exit and returns its exit code; fails the test (and kills it) after the deadline.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            Assert.Fail($"FederationHost (pid {Id}) did not exit within {timeout ?? DefaultTimeout}.\n{Describe()}");
        }

        // The parameterless wait also drains the redirected streams, so the output is complete.
        await _process.WaitForExitAsync();
        return _process.ExitCode;
    }

    /// <summary>Waits until the host logs the URL it listens on (<c>Now listening on: ...</c>) and returns it.</summary>
    public async Task<Uri> WaitForListeningAsync(TimeSpan? timeout = null)
    {
        var match = await Eventually.UntilAsync(
            () => Task.FromResult(ListeningPattern().Match(StandardOutput)),
            m => m.Success || HasExited,
            "FederationHost to log 'Now listening on'",
            timeout ?? DefaultTimeout);
        return match.Success ? new Uri(match.Groups[1].Value) : throw new InvalidOperationException($"FederationHost exited before listening.\n{Describe()}");
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

    /// <summary>Sends SIGTERM, as a service manager does to stop the host.</summary>
    public async Task TerminateAsync()
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", Id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, UseShellExecute = false })
            ?? throw new InvalidOperationException("Could not run kill.");
        await kill.WaitForExitAsync();
    }

    /// <summary>Lines that look like a .NET stack trace frame (<c>   at Namespace.Type.Method(...)</c>).</summary>
    public static IReadOnlyList<string> StackTraceLines(string output) =>
        [.. output.Split('\n').Where(l => StackFramePattern().IsMatch(l))];

    /// <summary>The output, for failure messages.</summary>
    public string Describe() => $"exit: {(HasExited ? _process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "running")}\n--- stdout ---\n{StandardOutput}\n--- stderr ---\n{StandardError}";

    public async ValueTask DisposeAsync()
    {
        if (!HasExited)
        {
            Kill();
            using var deadline = new CancellationTokenSource(DefaultTimeout);
            await _process.WaitForExitAsync(deadline.Token);
        }

        _process.Dispose();
        if (_ownsContentRoot)
        {
            Directory.Delete(ContentRoot, recursive: true);
        }
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

    private static void Append(StringBuilder buffer, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (buffer)
        {
            buffer.Append(line).Append('\n');
        }
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningPattern();

    [GeneratedRegex(@"^\s+at \S+")]
    private static partial Regex StackFramePattern();
}
