namespace FederationHost.Tests;

/// <summary>
/// The host's console log never carries a control character from a name: whoever may declare an exchange chooses its name
/// (RabbitMQ keeps an ESC in one), and the log lines quote it. Written raw, an escape sequence recoloured or rewrote the
/// terminal of an operator reading the log (a console, <c>docker logs</c>, <c>journalctl</c>), and a line break forged
/// log lines. The commands already print such characters as <c>\xHH</c>; the log now does too.
/// </summary>
public sealed class ConsoleControlCharacterTests
{
    private const string Settings = """
        {
          "Host": { "Url": "http://127.0.0.1:0", "Demo": { "Exchanges": [ "federated.esc\u001b[31mred\u0007bell" ] } },
          "Logging": { "LogLevel": { "Default": "Warning", "Microsoft.Hosting.Lifetime": "Information", "Federation": "Information" } },
          "Federation": {
            "Downstream": { "uri": "memory://esc-local/%2f" },
            "Upstreams": { "remote": { "uri": "memory://esc-remote/%2f" } },
            "Policies": { "fed": { "pattern": "^federated\\.", "apply-to": "exchanges", "definition": { "federation-upstream": "remote" } } }
          }
        }
        """;

    [Theory]
    [InlineData("simple")]
    [InlineData("systemd")]
    public async Task A_control_character_in_an_exchange_name_is_logged_as_an_escape_never_raw(string formatter)
    {
        await using var host = HostProcess.Start(Settings, [$"--Logging:Console:FormatterName={formatter}"]);
        await host.WaitForListeningAsync();

        await host.WaitForOutputAsync("running against");
        var output = host.StandardOutput;
        Assert.Contains(@"federated.esc\x1B[31mred\x07bell", output, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', output);
        Assert.DoesNotContain('\u0007', output);

        await host.TerminateAsync();
        Assert.Equal(0, await host.WaitForExitAsync());
    }
}
