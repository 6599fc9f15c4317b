using System.Diagnostics;

namespace FederationHost.Tests;

/// <summary>
/// The Collectives example (examples/Collectives), run as the main README runs it, ends a settings mistake the way it
/// ends a server it cannot reach: exit code 2 and one line naming the setting the operator wrote (<c>Example:...</c>),
/// never a stack trace or a credential. A black-box run of the README found an unknown query key, or a value that is
/// not a number, ending it with an unhandled exception (exit code 134) and its stack trace, and a misspelt key
/// (<c>Url</c> for <c>Uri</c>) ignored in silence.
/// </summary>
public sealed class CollectivesExampleProcessTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    public static TheoryData<string, string[], string> BadSettings => new()
    {
        {
            "unknown query key in a collective's URI",
            ["--Example:Collectives:london:Uri=nats://user:ExampleSecret1@127.0.0.1:1?foo=1"],
            "Example:Collectives:london:Uri: Unknown query parameter 'foo'"
        },
        {
            "unknown query key in the federation's URI",
            ["--Example:FederationUri=nats://user:ExampleSecret1@127.0.0.1:1?foo=1"],
            "Example:FederationUri: Unknown query parameter 'foo'"
        },
        { "not a number", ["--Example:BrokerInstances=abc"], "Example:BrokerInstances: 'abc' must be a positive integer" },
        { "misspelt collective key", ["--Example:Collectives:london:Url=memory://london"], "Example:Collectives:london:Url is not a recognised key" },
        { "misspelt example key", ["--Example:FederationUrl=memory://federation"], "Example:FederationUrl is not a recognised key" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task A_settings_mistake_exits_2_with_one_line_naming_the_setting(string name, string[] arguments, string expected)
    {
        var (exitCode, stdout, stderr) = await RunExampleAsync(arguments);

        var output = $"{name}\nstdout:\n{stdout}\nstderr:\n{stderr}";
        Assert.True(exitCode == 2, $"exit code {exitCode}\n{output}");
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains(lines, line => line.StartsWith("Collectives example: ", StringComparison.Ordinal) && line.Contains(expected, StringComparison.Ordinal));
        Assert.All(lines, line => Assert.StartsWith("Collectives example: ", line, StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", stdout + stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("ExampleSecret1", stdout + stderr, StringComparison.Ordinal);
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunExampleAsync(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(ExampleAssembly());
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(ExitTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"The Collectives example did not exit within {ExitTimeout}.");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    // The example is built with the solution into its own bin folder, in the configuration these tests were built in. Not
    // through a project reference: that copied the example's appsettings.json over FederationHost's in this project's
    // output, depending on build order (CompositionTests failed in a fresh-clone CI run).
    private static string ExampleAssembly()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent?.Name ?? "Release";
        var assembly = Path.Combine(RepositoryRoot(), "examples", "Collectives", "bin", configuration, "net10.0", "Collectives.dll");
        return File.Exists(assembly) ? assembly : throw new FileNotFoundException($"Build examples/Collectives ({configuration}) first.", assembly);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Federation.Core.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Federation.Core.sln above {AppContext.BaseDirectory}.");
    }
}
