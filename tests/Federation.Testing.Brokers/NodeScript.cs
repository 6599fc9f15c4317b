using System.Diagnostics;

namespace Federation.Testing.Brokers;

/// <summary>
/// Runs an interop driver script from tests/interop with node: the third-party clients (npm nats, amqplib) that the
/// interop tests put on both ends of a federation link. .ci/run installs the packages with npm ci.
/// </summary>
public static class NodeScript
{
    /// <summary>Runs <paramref name="script"/> with <paramref name="arguments"/>; returns its exit code and output.</summary>
    /// <param name="requiredPackage">An npm package the script imports; a clear error says how to install it when missing.</param>
    /// <param name="script">The script file in tests/interop.</param>
    /// <param name="arguments">Its arguments.</param>
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(string requiredPackage, string script, params string[] arguments)
    {
        var start = new ProcessStartInfo("node") { WorkingDirectory = InteropDirectory(requiredPackage), RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("node could not be started.");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output.ConfigureAwait(false), await error.ConfigureAwait(false));
    }

    private static string InteropDirectory(string requiredPackage)
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", "interop");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                return Directory.Exists(Path.Combine(candidate, "node_modules", requiredPackage))
                    ? candidate
                    : throw new InvalidOperationException($"The npm package '{requiredPackage}' is not installed: run 'npm ci' in {candidate} (.ci/run does this).");
            }
        }

        throw new DirectoryNotFoundException("tests/interop not found above " + AppContext.BaseDirectory);
    }
}
