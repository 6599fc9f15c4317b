using Federation.Core.Model;
using FederationHost.Configuration;
using FederationHost.Startup;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FederationHost.Tests;

/// <summary>The shipped composition reads the shipped appsettings.json and the command line.</summary>
public sealed class CompositionTests
{
    [Fact]
    public async Task The_shipped_appsettings_json_is_a_working_in_memory_default()
    {
        await using var app = FederationHostApp.Build([]);
        var settings = app.Services.GetRequiredService<HostSettings>();
        Assert.Equal(new Uri(HostSettings.DefaultUrl), settings.Url);
        Assert.Contains("federated.orders", settings.DemoExchanges);

        var options = app.Services.GetRequiredService<IOptionsMonitor<FederationOptions>>().CurrentValue;
        Assert.Empty(options.ConfigurationErrors);
        Assert.Equal("memory://local/%2f", options.Downstream.Uri);
        Assert.Equal(["memory://remote/%2f"], options.Upstreams["remote"].Uris);
    }

    [Fact]
    public void The_command_line_overrides_appsettings_json()
    {
        var error = Assert.Throws<HostConfigurationException>(() => FederationHostApp.Build(["--Host:Url=http://10.9.9.9:15690"]));
        Assert.Contains("10.9.9.9", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_port_out_of_range_is_named_as_such()
    {
        var error = Assert.Throws<HostConfigurationException>(() => FederationHostApp.Build(["--Host:Url=http://127.0.0.1:70000"]));
        Assert.Contains("Host:Url", error.Message, StringComparison.Ordinal);
        Assert.Contains("port 70000, out of range", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("https", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_content_root_that_does_not_exist_is_named()
    {
        var missing = Path.Combine(Path.GetTempPath(), "federation-host-no-such-dir-" + Guid.NewGuid().ToString("N"));
        var error = Assert.Throws<HostConfigurationException>(() => FederationHostApp.Build(["--contentRoot", missing]));
        Assert.StartsWith("contentRoot: the directory does not exist", error.Message, StringComparison.Ordinal);
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_content_root_without_appsettings_json_says_so_before_the_missing_settings()
    {
        var empty = Directory.CreateTempSubdirectory("federation-host-empty-").FullName;
        try
        {
            IConfiguration? configuration = null;
            var error = await Record.ExceptionAsync(async () =>
            {
                await using var app = FederationHostApp.Build(["--contentRoot", empty], sources => configuration = sources as IConfiguration);
                await app.StartAsync();
                await app.StopAsync();
            });
            Assert.NotNull(error);
            var stderr = new StringWriter();
            Assert.Equal(StartupFailure.ExitCode, await StartupFailure.ReportAsync(error, configuration, [], stderr));
            var lines = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.StartsWith(StartupFailure.Prefix + "appsettings.json: the file does not exist", lines[0], StringComparison.Ordinal);
            Assert.Contains(Path.Combine(empty, "appsettings.json"), lines[0], StringComparison.Ordinal);
            Assert.Contains(lines, l => l.Contains("Downstream", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }
}
