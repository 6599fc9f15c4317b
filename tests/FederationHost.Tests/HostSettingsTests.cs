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
    public void A_start_with_a_mistake_in_Host_names_the_mistakes_in_Federation_too()
    {
        // It named only the Host problem; the Federation ones came one start later, after that was fixed.
        var error = Assert.Throws<HostConfigurationException>(() => FederationHostApp.Build([], c =>
        {
            c.Sources.Clear();
            c.AddInMemoryCollection(
            [
                new("Host:Ulr", "http://127.0.0.1:15690"),
                new("Federation:Downstream:uri", "memory://x/%2f"),
                new("Federation:Polices:fed:pattern", "^fed$"),
            ]);
        }));
        Assert.Contains("Host:Ulr", error.Message, StringComparison.Ordinal);
        Assert.Contains("Polices", error.Message, StringComparison.Ordinal);
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

    [Fact]
    public void An_unknown_Host_key_is_refused_naming_it_and_the_known_keys()
    {
        var error = Assert.Throws<HostConfigurationException>(() => Read(("Host:Ulr", "http://127.0.0.1:15690")));
        Assert.Equal(["Host:Ulr is not a recognised key; known keys: Url, AllowRemote, CreateInMemoryBrokers, Metrics, Demo"], error.Problems);
    }

    [Theory]
    [InlineData("Host:Metrics:Metres:0", "x", "Host:Metrics:Metres is not a recognised key; known keys: Meters")]
    [InlineData("Host:Demo:Exchange:0", "x", "Host:Demo:Exchange is not a recognised key; known keys: Exchanges")]
    [InlineData("Host:Url:Port", "1", "Host:Url must be a URL such as http://127.0.0.1:15690, not a section")]
    [InlineData("Host:Metrics", "Federation.Core", "Host:Metrics: 'Federation.Core' is a single value, but Host:Metrics must be a section")]
    [InlineData("Host:Metrics:Meters", "Federation.Core", "Host:Metrics:Meters: 'Federation.Core' is a single value, but Host:Metrics:Meters must be a list")]
    [InlineData("Host:Metrics:Meters:main", "Federation.Core", "Host:Metrics:Meters must be a list, such as [\"Federation.Core\"], not a section with the key 'main'")]
    [InlineData("Host:Metrics:Meters:0", "", "Host:Metrics:Meters:0: an empty string is not a name")]
    [InlineData("Host:Demo:Exchanges:0:name", "x", "Host:Demo:Exchanges:0 must be a string, not a section")]
    [InlineData("Host:AllowRemote", "yes", "Host:AllowRemote: 'yes' is not true or false")]
    [InlineData("Host:CreateInMemoryBrokers:value", "true", "Host:CreateInMemoryBrokers must be true or false, not a section")]
    public void A_wrong_shape_is_refused_naming_the_key(string key, string value, string expected)
    {
        var error = Assert.Throws<HostConfigurationException>(() => Read((key, value)));
        Assert.Contains(error.Problems, p => p.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Every_problem_is_listed_once_each()
    {
        var error = Assert.Throws<HostConfigurationException>(() => Read(("Host:Ulr", "x"), ("Host:AllowRemote", "maybe"), ("Host:Url", "http://10.0.0.1:1")));
        Assert.Equal(3, error.Problems.Count);
        Assert.Equal(string.Join("; ", error.Problems), error.Message);
    }

    [Fact]
    public void The_Host_section_as_a_single_value_is_refused()
    {
        var error = Assert.Throws<HostConfigurationException>(() => Read(("Host", "http://127.0.0.1:1")));
        Assert.StartsWith("Host: 'http://127.0.0.1:1' is a single value, but Host must be a section with the keys Url, AllowRemote", Assert.Single(error.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public void An_IPv4_mapped_loopback_address_is_bound_as_IPv4()
    {
        var settings = Read(("Host:Url", "http://[::ffff:127.0.0.1]:15690"));
        Assert.Equal(System.Net.IPAddress.Loopback, settings.Address);
        Assert.Equal(15690, settings.Port);
    }

    [Fact]
    public void An_IPv4_mapped_remote_address_is_refused_as_remote()
    {
        var error = Assert.Throws<HostConfigurationException>(() => Read(("Host:Url", "http://[::ffff:10.1.2.3]:15690")));
        Assert.Contains("not a loopback address", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://federator:s3cr3t-pw@127.0.0.1:15690")]
    [InlineData("http://federator:s3cr3t-pw@10.0.0.1:15690/x")]
    [InlineData("http://federator:s3cr3t/pw@127.0.0.1:15690")]
    [InlineData("http://federator:s3cr3t?pw@127.0.0.1:15690")]
    public void A_url_with_credentials_is_refused_without_repeating_the_password(string url)
    {
        var error = Assert.Throws<HostConfigurationException>(() => Read(("Host:Url", url)));
        Assert.Contains("Host:Url", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Downstream:url", "memory://x/%2f", "Downstream:url is not a recognised key; known keys: uri")]
    [InlineData("Downstream", "memory://u:s3cr3t-pw@x/%2f", "Downstream: 'memory://x/%2f' is a single value, but Downstream must be a section with the key uri")]
    [InlineData("Downstream:uri:value", "memory://x/%2f", "Downstream:uri must be a single URI, not a section")]
    public void A_mistake_in_the_Downstream_alias_section_stops_the_build(string key, string value, string expected)
    {
        var error = Assert.Throws<HostConfigurationException>(() => FederationHostApp.Build([], c =>
        {
            c.Sources.Clear();
            c.AddInMemoryCollection([new("Host:Url", "http://127.0.0.1:0"), new(key, value)]);
        }));
        Assert.StartsWith(expected, Assert.Single(error.Problems), StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t-pw", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_known_top_level_sections_of_a_web_host_are_accepted()
    {
        using var app = (IDisposable)FederationHostApp.Build([], c =>
        {
            c.Sources.Clear();
            c.AddInMemoryCollection(
            [
                new("Host:Url", "http://127.0.0.1:0"), new("Federation:Downstream:uri", "memory://x/%2f"), new("AllowedHosts", "*"),
                new("Kestrel:Limits:MaxRequestBodySize", "1000"), new("Logging:LogLevel:Default", "Warning"), new("Downstream:URI", "memory://y/%2f"),
            ]);
        });
    }
}
