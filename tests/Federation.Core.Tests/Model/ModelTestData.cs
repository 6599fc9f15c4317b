using System.Text;
using Federation.Core.Model;
using Microsoft.Extensions.Configuration;

namespace Federation.Core.Tests.Model;

/// <summary>Builders shared by the model tests.</summary>
internal static class ModelTestData
{
    /// <summary>A password that must never appear in any error text.</summary>
    public const string Password = "s3cr3t-pa55";

    /// <summary>A downstream URI for options that must validate.</summary>
    public const string DownstreamUri = "memory://london/%2f";

    public const string OriginUri = "amqp://fed-user:" + Password + "@origin.example:5672/%2f";

    public static UpstreamDefinition Upstream(string uri = OriginUri, Action<UpstreamDefinition>? configure = null)
    {
        var upstream = new UpstreamDefinition { Uris = [uri] };
        configure?.Invoke(upstream);
        return upstream;
    }

    public static FederationPolicy ExchangePolicy(
        string pattern, int priority = 0, string applyTo = "exchanges", Action<FederationPolicyDefinition>? definition = null)
    {
        var policy = new FederationPolicy { Pattern = pattern, Priority = priority, ApplyTo = applyTo };
        definition?.Invoke(policy.Definition);
        return policy;
    }

    /// <summary>The <c>Federation</c> section of a JSON configuration document.</summary>
    public static IConfigurationSection FederationSection(string json) =>
        new ConfigurationBuilder()
            .AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)))
            .Build()
            .GetSection(FederationOptions.SectionName);

    /// <summary>Reads a <c>Federation</c> section given as the JSON object inside it.</summary>
    public static FederationOptions ReadConfiguration(string federationSectionJson)
    {
        var options = new FederationOptions();
        FederationConfigurationReader.Read(FederationSection("{\"Federation\":" + federationSectionJson + "}"), options);
        return options;
    }
}
