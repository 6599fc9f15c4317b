using Federation.Core.Transport;

namespace FederationHost.Cli;

/// <summary>
/// The operator subcommands of the host binary (<c>validate</c>, <c>status</c>, <c>restart</c>), so that checking a
/// settings file or a running agent needs nothing but the binary that is already installed. Any other first argument
/// (or none) starts the host as before.
/// </summary>
public static class HostCommands
{
    /// <summary>The exit code of a command that found a problem, could not reach the host, or was used wrongly; as the host's start-up failure.</summary>
    public const int Failure = 2;

    /// <summary>Whether <paramref name="args"/> names a subcommand rather than host settings.</summary>
    public static bool IsCommand(string[] args) => args is [var first, ..] && first is ValidateCommand.Name or StatusCommand.Name or RestartCommand.Name;

    /// <summary>Runs the subcommand <paramref name="args"/>[0] with the rest of the arguments.</summary>
    /// <returns>The process exit code: 0 on success, <see cref="Failure"/> otherwise.</returns>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(error);
        var rest = args[1..];
        try
        {
            return args[0] switch
            {
                ValidateCommand.Name => await ValidateCommand.RunAsync(rest, output, error).ConfigureAwait(false),
                StatusCommand.Name => await StatusCommand.RunAsync(rest, output, error, cancellationToken).ConfigureAwait(false),
                RestartCommand.Name => await RestartCommand.RunAsync(rest, output, error, cancellationToken).ConfigureAwait(false),
                _ => throw new ArgumentException($"'{args[0]}' is not a host command.", nameof(args)),
            };
        }
#pragma warning disable CA1031 // An operator command ends in one line and exit code 2, never in a stack trace, whatever failed.
        catch (Exception unexpected) when (unexpected is not OperationCanceledException)
#pragma warning restore CA1031
        {
            await error.WriteLineAsync($"{args[0]}: {TerminalText.Escape(UriRedaction.RedactText(unexpected.Message))}").ConfigureAwait(false);
            return Failure;
        }
    }
}
