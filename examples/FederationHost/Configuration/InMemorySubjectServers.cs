using Federation.Core.InMemory.Subjects;
using Microsoft.Extensions.Configuration;

namespace FederationHost.Configuration;

/// <summary>
/// Demo behaviour for broker instances, as <see cref="InMemoryBrokerProvisioner"/> is for links: the in-memory subject
/// transport refuses a <c>memory://</c> server nobody registered, so the servers that <c>FederationUri</c> and
/// <c>CollectiveUri</c> of the <c>FederationBrokers</c> section name are created before the instances start (and before
/// their options are validated). Off with <c>Host:CreateInMemoryBrokers=false</c>: a test or an embedding application
/// then registers its own servers. Only other code in this process can reach such a server.
/// </summary>
internal static class InMemorySubjectServers
{
    /// <summary>Registers in <paramref name="registry"/> a server for every <c>memory://</c> URI of the broker instances.</summary>
    /// <returns>The names of the servers created now (not those that existed already).</returns>
    public static IReadOnlyList<string> Provision(IConfiguration configuration, InMemorySubjectServerRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(registry);
        var created = new List<string>();
        foreach (var instance in configuration.GetSection(FederationBrokerSettings.SectionName).GetChildren())
        {
            foreach (var key in FederationBrokerSettings.UriKeys)
            {
                // The same parsing as for the links' in-memory brokers: credentials are cut off, an ambiguous URI names none.
                if (InMemoryBrokerProvisioner.BrokerName(instance[key]) is { } name && !registry.TryGet(name, out _))
                {
                    registry.GetOrAdd(name);
                    created.Add(name);
                }
            }
        }

        return created;
    }
}
