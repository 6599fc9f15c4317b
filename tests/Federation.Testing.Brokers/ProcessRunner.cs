using System.Diagnostics;
using System.Text;

namespace Federation.Testing.Brokers;

/// <summary>Runs a command-line tool to completion with a deadline and captures its output.</summary>
public static class ProcessRunner
{
    /// <summary>The result of a run.</summary>
    /// <param name="ExitCode">The exit code, or -1 when the deadline killed the process.</param>
    /// <param name="Output">Standard output and error, interleaved by stream.</param>
    public sealed record Result(int ExitCode, string Output);

    /// <summary>Runs <paramref name="fileName"/> with <paramref name="arguments"/> and <paramref name="environment"/> added to ours.</summary>
    /// <param name="fileName">The executable.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <param name="environment">Variables to set for it.</param>
    /// <param name="timeout">How long it may run before it is killed.</param>
    /// <param name="cancellationToken">Cancels waiting (and kills the process).</param>
    /// <param name="captureOutput">Whether to capture its output.</param>
    public static async Task<Result> RunAsync(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, bool captureOutput = true, CancellationToken cancellationToken = default)
    {
        // A daemonising tool (rabbitmq-server -detached) leaves children holding redirected pipes open: do not capture then.
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = captureOutput,
            RedirectStandardError = captureOutput,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var output = new StringBuilder();
        var stdout = captureOutput ? process.StandardOutput.ReadToEndAsync(cancellationToken) : Task.FromResult(string.Empty);
        var stderr = captureOutput ? process.StandardError.ReadToEndAsync(cancellationToken) : Task.FromResult(string.Empty);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Only this process (by its own handle), never anything found by name.
            process.Kill(entireProcessTree: true);
            return new Result(-1, $"{fileName} did not finish within {timeout}.");
        }

        output.Append(await stdout.ConfigureAwait(false)).Append(await stderr.ConfigureAwait(false));
        return new Result(process.ExitCode, output.ToString());
    }
}
