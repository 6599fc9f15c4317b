using FederationHost.Configuration;
using Microsoft.Extensions.Configuration;

namespace FederationHost.Tests;

/// <summary>The HTTP listener is loopback-only unless remote listening is explicitly allowed.</summary>
public sealed class HostSettingsTests
{
    private static HostSettings Read(params (string Key, string Value)[] values) =>
        HostSettings.From(new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build());

    [Theory]
    [InlineData("http://10.1.2.3:15690")]
    [InlineData("http://0.0.0.0:15690")]
    [InlineData("http://[::]:15690")]
    public void A_non_loopback_url_is_refused_with_a_clear_error(string url)
    {
        var error = Assert.Throws<HostConfigurationException>(() => Read(("Host:Url", url)));
        Assert.Contains("Host:Url", error.Message, StringComparison.Ordinal);
        Assert.Contains("loopback", error.Message, StringComparison.Ordinal);
        Assert.Contains("Host:AllowRemote=true", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_application_refuses_to_build_with_a_non_loopback_url()
    {
        var error = Assert.Throws<HostConfigurationException>(() => FederationHostApp.Build([], c =>
        {
            c.Sources.Clear();
            c.AddInMemoryCollection([new("Host:Url", "http://192.168.10.20:15690"), new("Federation:Downstream:uri", "memory://x/%2f")]);
        }));
        Assert.Contains("192.168.10.20", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_host_name_is_refused_because_the_bound_interface_would_be_implicit()
    {
        var error = Assert.Throws<HostConfigurationException>(() => Read(("Host:Url", "http://example.com:15690")));
        Assert.Contains("example.com", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://127.0.0.1:15690")]
    [InlineData("http://127.0.0.1:15690/federation")]
    [InlineData("not a url")]
    public void Unsupported_urls_are_refused(string url) =>
        Assert.Throws<HostConfigurationException>(() => Read(("Host:Url", url)));

    [Fact]
    public void Remote_listening_is_allowed_explicitly()
    {
        var settings = Read(("Host:Url", "http://0.0.0.0:8080"), ("Host:AllowRemote", "true"));
        Assert.Equal(System.Net.IPAddress.Any, settings.Address);
        Assert.Equal(8080, settings.Port);
    }

    [Theory]
    [InlineData("http://127.0.0.1:15690", "127.0.0.1")]
    [InlineData("http://[::1]:15690", "::1")]
    [InlineData("http://localhost:15690", null)]
    public void Loopback_urls_are_accepted(string url, string? address)
    {
        var settings = Read(("Host:Url", url));
        Assert.Equal(address, settings.Address?.ToString());
        Assert.Equal(15690, settings.Port);
    }

    [Fact]
    public void Defaults_listen_on_127_0_0_1_port_15690_and_export_the_federation_meter()
    {
        var settings = Read();
        Assert.Equal(new Uri(HostSettings.DefaultUrl), settings.Url);
        Assert.True(settings.CreateInMemoryBrokers);
        Assert.Equal(["Federation.Core"], settings.MeterNames);
    }

    [Fact]
    public void More_meters_come_from_configuration()
    {
        var settings = Read(("Host:Metrics:Meters:0", "Federation.Core"), ("Host:Metrics:Meters:1", "My.App"));
        Assert.Equal(["Federation.Core", "My.App"], settings.MeterNames);
    }
}
