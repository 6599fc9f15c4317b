using Federation.Core.Collectives;
using Federation.Core.Hosting;
using Federation.Core.InMemory.Subjects;
using Federation.Core.Transport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// An instance whose FederationUri and CollectiveUri name one server relays requests into its own federation (black-box
/// run of 7 Dec 2026: it passed <c>validate</c> and started). It is refused before it starts, naming both keys and the
/// server without credentials; URIs that may well be two servers are not.
/// </summary>
public sealed class SameServerValidationTests
{
    [Theory]
    [InlineData("memory://fed", "memory://fed")]
    [InlineData("memory://fed", "memory://FED/")]
    [InlineData("memory://a:secret-pw@fed", "memory://fed/other-vhost")]
    [InlineData("nats://fed.example:4222", "nats://fed.example")]
    [InlineData("nats://broker:secret-pw@Fed.Example", "nats://fed.example:4222/?connect-timeout-ms=1000")]
    [InlineData("tls://fed.example", "nats://fed.example:4222")]
    [InlineData("nats://localhost:4333", "nats://127.0.0.1:4333")]
    [InlineData("amqp://guest:secret-pw@rabbit/%2f", "amqp://rabbit:5672")]
    [InlineData("amqps://rabbit/fed", "AMQPS://rabbit:5671/fed")]
    public void Identical_servers_after_normalising_are_refused_naming_both_keys_without_credentials(string federation, string collective)
    {
        var options = new FederationBrokerOptions { ClusterName = "london", FederationUri = federation, CollectiveUri = collective };

        var error = Assert.Single(FederationBrokerOptionsValidation.Validate(options, "FederationBrokers:london:"));

        Assert.StartsWith($"FederationBrokers:london:CollectiveUri: '{UriRedaction.Redact(collective)}' is the same server as FederationUri ('{UriRedaction.Redact(federation)}')", error, StringComparison.Ordinal);
        Assert.Contains("relay requests into its own federation", error, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-pw", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("memory://fed", "memory://london")]
    [InlineData("nats://fed.example:4222", "nats://fed.example:4223")]
    [InlineData("nats://fed.example", "nats://london.example")]
    [InlineData("amqp://rabbit/fed", "amqp://rabbit/london")]
    [InlineData("amqp://rabbit:5672", "amqps://rabbit")]
    [InlineData("nats://fed.example", "nats://10.0.0.1")] // may be one machine, but only DNS could tell
    public void Different_servers_are_accepted(string federation, string collective)
    {
        var options = new FederationBrokerOptions { ClusterName = "london", FederationUri = federation, CollectiveUri = collective };

        Assert.Empty(FederationBrokerOptionsValidation.Validate(options));
    }

    [Fact]
    public void A_broker_refuses_to_be_constructed_on_one_server()
    {
        var registry = new InMemorySubjectServerRegistry();
        registry.GetOrAdd("one");
        var options = new FederationBrokerOptions { ClusterName = "london", FederationUri = "memory://one", CollectiveUri = "memory://ONE", InstanceName = "london-1" };

        var error = Assert.Throws<ArgumentException>(() => new FederationBroker(options, [new InMemorySubjectTransport(registry)], new global::Federation.Core.Diagnostics.FederationTelemetry()));

        Assert.Contains("CollectiveUri: 'memory://ONE' is the same server as FederationUri ('memory://one')", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_host_refuses_to_start_an_instance_on_one_server()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["FederationBrokers:london:FederationUri"] = "memory://broker:secret-pw@samehost",
            ["FederationBrokers:london:CollectiveUri"] = "memory://samehost",
        });
        builder.Services.AddSingleton(new InMemorySubjectServerRegistry());
        builder.Services.AddFederationBroker(builder.Configuration.GetSection("FederationBrokers:london"));
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(error.Failures, f => f.Contains($"CollectiveUri: 'memory://samehost' is the same server as FederationUri ('{UriRedaction.Redact("memory://broker:secret-pw@samehost")}')", StringComparison.Ordinal));
        Assert.DoesNotContain("secret-pw", error.Message, StringComparison.Ordinal);
    }
}
