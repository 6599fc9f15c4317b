using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace FederationHost.Tests;

/// <summary>
/// The console's formatter options apply from the start. Without a formatter name, the console logger ignored
/// <c>Logging:Console:FormatterOptions</c> (a timestamp format given on the command line) until appsettings.json was reloaded.
/// </summary>
public sealed class ConsoleFormatterTests
{
    [Theory]
    [InlineData(null, "simple")]
    [InlineData("json", "json")]
    [InlineData("systemd", "systemd")]
    public async Task The_console_names_a_formatter_so_that_its_options_apply_from_the_start(string? configured, string expected)
    {
        await using var app = FederationHostApp.Build([], c =>
        {
            c.Sources.Clear();
            c.AddInMemoryCollection(
            [
                new("Host:Url", "http://127.0.0.1:0"),
                new("Federation:Downstream:uri", "memory://x/%2f"),
                new("Logging:Console:FormatterOptions:TimestampFormat", "HH:mm:ss "),
                .. configured is null ? [] : new KeyValuePair<string, string?>[] { new("Logging:Console:FormatterName", configured) },
            ]);
        });

        Assert.Equal(expected, app.Services.GetRequiredService<IOptionsMonitor<ConsoleLoggerOptions>>().CurrentValue.FormatterName);
        if (configured is null)
        {
            Assert.Equal("HH:mm:ss ", app.Services.GetRequiredService<IOptionsMonitor<SimpleConsoleFormatterOptions>>().CurrentValue.TimestampFormat);
        }
    }
}
