using Microsoft.Extensions.Configuration;

namespace FederationHost.Configuration;

/// <summary>
/// What the host runs, decided at start from which sections the configuration has: exchange federation (the
/// <c>Federation</c> section, or the <c>Downstream</c> alias), Federation of Collectives broker instances (the
/// <c>FederationBrokers</c> section), or both. A configuration with neither still runs exchange federation, so that a
/// missing downstream is reported as it always was.
/// </summary>
/// <param name="ExchangeFederation">Whether the exchange federation engine runs.</param>
/// <param name="BrokerNames">The broker instances' names (keys of <c>FederationBrokers</c>), in configuration order.</param>
public sealed record HostFeatures(bool ExchangeFederation, IReadOnlyList<string> BrokerNames)
{
    /// <summary>Whether the host runs broker instances.</summary>
    public bool Brokers => BrokerNames.Count > 0;

    /// <summary>
    /// Whether exchange federation is configured: the <c>Federation</c> or the <c>Downstream</c> section exists, or the
    /// <c>FederationBrokers</c> section does not (a host with nothing configured reports its missing downstream).
    /// </summary>
    public static bool ExchangeFederationConfigured(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return configuration.GetSection(FederationHostApp.FederationSection).Exists() ||
            configuration.GetSection(DownstreamAlias.SectionName).Exists() ||
            !FederationBrokerSettings.IsConfigured(configuration);
    }
}
