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

    // The upstream's vhost does not exist, so every link attempt fails with an exception that quotes it: at Debug the
    // engine logs each failed attempt (event 1008) with that exception, which the formatters print after the message.
    private const string DebugSettings = """
        {
          "Host": { "Url": "http://127.0.0.1:0", "Demo": { "Exchanges": [ "federated.x" ] } },
          "Logging": { "LogLevel": { "Default": "Warning", "Microsoft.Hosting.Lifetime": "Information", "Federation": "Debug" } },
          "Federation": {
            "Downstream": { "uri": "memory://esc-local/%2f" },
            "Upstreams": { "remote": { "uri": "memory://esc-remote/vh%1B%5B31mred%07bell%0Aforged" } },
            "Policies": { "fed": { "pattern": "^federated\\.", "apply-to": "exchanges", "definition": { "federation-upstream": "remote" } } }
          }
        }
        """;

    [Theory]
    [InlineData("simple")]
    [InlineData("systemd")]
    [InlineData("json")]
    public async Task A_control_character_in_a_logged_exception_is_printed_as_an_escape_never_raw(string formatter)
    {
        await using var host = HostProcess.Start(DebugSettings, [$"--Logging:Console:FormatterName={formatter}"]);

        await host.WaitForOutputAsync("attempt 2 against"); // the first attempt's entry, exception included, is written
        var output = host.StandardOutput;

        // The first time the exception's text appears is the dump after event 1008 (the warning that follows quotes it too).
        var dump = output.IndexOf("BrokerUnreachableException: In-memory broker", StringComparison.Ordinal);
        Assert.True(dump >= 0, output);
        var printed = output.Substring(dump, Math.Min(200, output.Length - dump)).Replace(@"\\x", @"\x", StringComparison.Ordinal); // json doubles the backslash
        Assert.Contains(@"vh\x1B[31mred\x07bell\x0Aforged", printed, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', output);
        Assert.DoesNotContain('\u0007', output);
        Assert.DoesNotContain("\nforged", output, StringComparison.Ordinal); // the message's line break forges no line
        Assert.Contains("   at ", output, StringComparison.Ordinal); // the stack trace is still printed

        await host.TerminateAsync();
        Assert.Equal(0, await host.WaitForExitAsync());
    }
}
