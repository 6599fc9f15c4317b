using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace FederationHost.Startup;

/// <summary>
/// How the host reports an error that stops it from starting: exit code 2 and one line per problem on stderr, each
/// prefixed <c>FederationHost: </c>, without a stack trace unless debug logging is on.
/// </summary>
public static class StartupFailure
{
    /// <summary>The exit code of a host that did not start.</summary>
    public const int ExitCode = 2;

    /// <summary>The prefix of every line.</summary>
    public const string Prefix = "FederationHost: ";

    /// <summary>Writes the report to <paramref name="stderr"/> and returns <see cref="ExitCode"/>.</summary>
    /// <param name="error">What stopped the start.</param>
    /// <param name="configuration">The configuration as far as it was read, for the log level; null when none could be read.</param>
    /// <param name="args">The command line, read for the log level when <paramref name="configuration"/> is null.</param>
    /// <param name="stderr">Where to write.</param>
    public static async Task<int> ReportAsync(Exception error, IConfiguration? configuration, string[] args, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(stderr);
        if (MissingSettingsFile(configuration) is { } hint)
        {
            await stderr.WriteLineAsync(Prefix + Cli.TerminalText.Escape(hint));
        }

        foreach (var line in Describe(error))
        {
            // Problems quote names and values from the settings: escaped, so that none is acted on by the terminal.
            await stderr.WriteLineAsync(Prefix + Cli.TerminalText.Escape(line));
        }

        // Without the settings files (they may be what failed), environment variables and the command line still count.
        configuration ??= new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args ?? []).Build();
        if (ConfiguredLogLevel.IsDebugOn(configuration))
        {
            await stderr.WriteLineAsync(Prefix + "debug logging is on; the exception follows.");
            await stderr.WriteLineAsync(Cli.TerminalText.Escape(error.ToString(), keepLineBreaks: true));
        }

        await stderr.FlushAsync();
        return ExitCode;
    }

    /// <summary>
    /// A line saying that the content root given explicitly holds no appsettings.json, or null. An explicit content root
    /// is there to point at the settings file: when it has none, that is most likely the mistake behind whatever setting
    /// is reported missing (`validate` says the same).
    /// </summary>
    public static string? MissingSettingsFile(IConfiguration? configuration)
    {
        var root = configuration?[Microsoft.Extensions.Hosting.HostDefaults.ContentRootKey];
        if (string.IsNullOrEmpty(root) || !Directory.Exists(root))
        {
            return null;
        }

        var file = Path.Combine(Path.GetFullPath(root), "appsettings.json");
        return File.Exists(file) ? null : $"appsettings.json: the file does not exist ({file}); the content root names the folder that holds it.";
    }

    /// <summary>One line per problem, naming the key or file where it is known.</summary>
    public static IEnumerable<string> Describe(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return error switch
        {
            HostConfigurationException host => host.Problems.Select(OneLine),
            OptionsValidationException options => options.Failures.Select(f => "invalid Federation configuration: " + OneLine(f)),
            AggregateException aggregate => aggregate.Flatten().InnerExceptions.SelectMany(Describe),
            IOException listen when Chain(listen).Any(e => e is AddressInUseException or SocketException) =>
                ["Host:Url: " + Messages(listen) + " (set Host:Url to a free port, or stop what listens there)"],
            _ => [$"{error.GetType().Name}: {Messages(error)}"],
        };
    }

    /// <summary>The messages of an exception and its causes, each once, on one line.</summary>
    private static string Messages(Exception error)
    {
        var text = "";
        foreach (var message in Chain(error).Select(e => OneLine(e.Message)))
        {
            if (!text.Contains(message.TrimEnd('.'), StringComparison.OrdinalIgnoreCase))
            {
                text = text.Length == 0 ? message : $"{text.TrimEnd('.')}: {message}";
            }
        }

        return text;
    }

    private static IEnumerable<Exception> Chain(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            yield return e;
        }
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}
