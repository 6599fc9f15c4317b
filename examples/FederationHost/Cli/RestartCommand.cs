using System.Net;
using System.Text.Json;

namespace FederationHost.Cli;

/// <summary><c>restart ID [--url URL]</c>: restarts one link of a running host, as <c>rabbitmqctl restart_federation_link</c>.</summary>
public static class RestartCommand
{
    /// <summary>The subcommand.</summary>
    public const string Name = "restart";

    private const string Usage = "usage: FederationHost restart ID [--url http://127.0.0.1:15690]   (the ids are in the first column of 'status')";

    /// <summary>Asks the host at <c>--url</c> (or at <c>Host:Url</c> of the host's appsettings.json) to restart the link <c>ID</c>.</summary>
    /// <returns>0 when the restart was requested, <see cref="HostCommands.Failure"/> for an unknown id, an unreachable host or wrong arguments.</returns>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (!HostClient.TryCreate(args, out var client, out var rest, out var problem))
        {
            error.WriteLine($"{Name}: {TerminalText.Escape(problem!)}");
            return HostCommands.Failure;
        }

        using (client)
        {
            if (rest is not [var id] || id.StartsWith('-') || string.IsNullOrWhiteSpace(id))
            {
                error.WriteLine(Usage);
                return HostCommands.Failure;
            }

            var path = $"federation/links/{Uri.EscapeDataString(id)}/restart";
            // A host that took the connection and did not answer (paused by SIGSTOP, a stalled VM) has the request in its
            // socket and carries it out when it resumes: saying only "did not answer" would let the operator believe
            // nothing happened.
            var answer = await client!.SendAsync(
                HttpMethod.Post,
                path,
                line => error.WriteLine($"{Name}: {TerminalText.Escape(line)}"),
                cancellationToken,
                "; the request was sent, so the link may still restart once the host answers (see 'status')").ConfigureAwait(false);
            var shown = TerminalText.Escape(id);
            switch (answer)
            {
                case null:
                    return HostCommands.Failure;
                case { Status: HttpStatusCode.Accepted }:
                    output.WriteLine($"Restarting federation link {shown} on {client.BaseAddress}; 'status' shows it starting, then running.");
                    return 0;
                case { Status: HttpStatusCode.NotFound }:
                    error.WriteLine($"{Name}: Link with the given ID was not found: '{shown}' (the ids are in the first column of 'status').");
                    return HostCommands.Failure;
                case var (status, body):
                    var reason = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("error", out var text) && text.ValueKind == JsonValueKind.String
                        ? ": " + TerminalText.Escape(text.GetString()!)
                        : "";
                    error.WriteLine($"{Name}: {client.BaseAddress}{path} answered {(int)status} {status}{reason}");
                    return HostCommands.Failure;
            }
        }
    }
}
