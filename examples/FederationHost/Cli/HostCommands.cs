using Federation.Core.Transport;

namespace FederationHost.Cli;

/// <summary>
/// The operator subcommands of the host binary (<c>validate</c>, <c>status</c>, <c>restart</c>), so that checking a
/// settings file or a running agent needs nothing but the binary that is already installed. A first argument that is
/// a setting (<c>--Key=Value</c>, <c>--Key Value</c>, <c>/Key Value</c>, <c>Key=Value</c>), or none, starts the host.
/// Any other bare word is a misspelt command (<c>stauts</c>): the configuration's command line would ignore it, so the
/// host would start, join the federation and take links where the operator only meant to look.
/// </summary>
public static class HostCommands
{
    /// <summary>The exit code of a command that found a problem, could not reach the host, or was used wrongly; as the host's start-up failure.</summary>
    public const int Failure = 2;

    /// <summary>
    /// Whether <paramref name="args"/> starts with a subcommand rather than host settings: one of the commands, or a
    /// bare word that is no setting (no leading <c>-</c> or <c>/</c>, no <c>=</c>), which <see cref="RunAsync"/>
    /// refuses as an unknown command.
    /// </summary>
    public static bool IsCommand(string[] args) =>
        args is [var first, ..] && (first is ValidateCommand.Name or StatusCommand.Name or RestartCommand.Name || IsBareWord(first));

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
                _ => await UnknownCommandAsync(args[0], error).ConfigureAwait(false),
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

    private static async Task<int> UnknownCommandAsync(string command, TextWriter error)
    {
        await error.WriteLineAsync(
            $"{TerminalText.Escape(command)}: unknown command; the commands are {ValidateCommand.Name}, {StatusCommand.Name} and " +
            $"{RestartCommand.Name}, and the host starts with no argument or with settings such as --contentRoot DIR or --Host:Url=URL").ConfigureAwait(false);
        return Failure;
    }

    // What the command-line configuration provider skips: no key prefix (--, -, /) and no '='.
    private static bool IsBareWord(string argument) =>
        argument.Length > 0 && argument[0] is not ('-' or '/') && !argument.Contains('=', StringComparison.Ordinal);
}
