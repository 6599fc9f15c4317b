using Federation.Core.Model;
using FederationHost.Configuration;
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
}
