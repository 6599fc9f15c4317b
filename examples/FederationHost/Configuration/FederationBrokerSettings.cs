using Federation.Core.Collectives;
using Federation.Core.Hosting;
using Federation.Core.InMemory.Subjects;
using Federation.Core.Transport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FederationHost.Configuration;

/// <summary>
/// The <c>FederationBrokers</c> section: Federation of Collectives broker instances the host runs, one per key
/// (<c>FederationBrokers:&lt;name&gt;:{ClusterName, FederationUri, CollectiveUri, InstanceName, Envelope, Workers, ...}</c>),
/// each registered with the library's <c>AddFederationBroker(section)</c>. Checked here at start and by <c>validate</c> as
/// the library checks them when the instances start (its reader and validator, with the host's subject transports), plus
/// the shapes binding alone lets through; every problem names its key, values are shown without credentials. Read at
/// start only (see <see cref="BrokerSettingsReload"/>).
/// </summary>
internal static class FederationBrokerSettings
{
    /// <summary>The configuration section name; the library's validation messages use it too (<c>FederationBrokers:&lt;name&gt;:&lt;key&gt;</c>).</summary>
    public const string SectionName = "FederationBrokers";

    /// <summary>The keys that hold server URIs.</summary>
    public static readonly IReadOnlyList<string> UriKeys = [nameof(FederationBrokerOptions.FederationUri), nameof(FederationBrokerOptions.CollectiveUri)];

    private const string InstanceExample = "{ \"ClusterName\": \"london\", \"FederationUri\": \"nats://fed:4222\", \"CollectiveUri\": \"nats://london:4222\" }";

    /// <summary>Whether the configuration has a <c>FederationBrokers</c> section (a key or a value under the name).</summary>
    public static bool IsConfigured(IConfiguration configuration) => configuration.GetSection(SectionName).Exists();

    /// <summary>
    /// Reads and checks the section, adding every problem to <paramref name="problems"/>. Nothing connects: the options are
    /// bound and validated on a throwaway service provider; <c>memory://</c> servers are created there, not in the host's.
    /// </summary>
    /// <returns>The instances' names, in configuration order (empty when there are problems or no section).</returns>
    public static IReadOnlyList<string> Read(IConfiguration configuration, ICollection<string> problems)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(problems);
        var before = problems.Count;
        var section = configuration.GetSection(SectionName);
        if (ConfigurationShape.RejectValue(section, $"a section of broker instances by name, such as {{ \"london\": {InstanceExample} }}", problems))
        {
            return [];
        }

        var instances = section.GetChildren().ToList();
        foreach (var instance in instances)
        {
            if (ConfigurationShape.RejectValue(instance, $"a section such as {InstanceExample}", problems))
            {
                continue;
            }

            foreach (var key in instance.GetChildren().Where(k => k.GetChildren().Any()))
            {
                // The library reads single values only: a section there would leave the default (or "is required") in silence.
                problems.Add($"{key.Path} must be a single value, not a section");
            }
        }

        if (problems.Count > before || instances.Count == 0)
        {
            return [];
        }

        var options = Validate(configuration, instances, problems);
        RejectSharedInstanceNames(options, problems);
        RejectMixedEnvelopes(options, problems);
        return problems.Count == before ? instances.Select(i => i.Key).ToList() : [];
    }

    /// <summary>
    /// Registers the instances <paramref name="names"/> of the section (already checked by <see cref="Read"/>) with the
    /// host's subject transports, and the servers <c>memory://</c> URIs name when <paramref name="createInMemoryServers"/>.
    /// </summary>
    public static void Register(IServiceCollection services, IConfiguration configuration, IReadOnlyList<string> names, bool createInMemoryServers)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(names);
        var registry = new InMemorySubjectServerRegistry();
        if (createInMemoryServers)
        {
            _ = InMemorySubjectServers.Provision(configuration, registry);
        }

        // Registered before AddFederationBroker, which only adds a registry when there is none.
        services.AddSingleton(registry);
        TransportRegistration.AddSubjectTransports(services);
        var section = configuration.GetSection(SectionName);
        foreach (var name in names)
        {
            services.AddFederationBroker(section.GetSection(name));
        }

        services.AddSingleton<FederationBrokerHealthCheck>();
    }

    /// <summary>Whether <c>Host:CreateInMemoryBrokers</c> is on (its default); an unreadable value counts as on, the Host section reports it.</summary>
    public static bool CreatesInMemoryServers(IConfiguration configuration) =>
        !bool.TryParse(configuration[$"{HostSettings.SectionName}:CreateInMemoryBrokers"], out var create) || create;

    // The library's reader and validator, exactly as the instances' start runs them, with every error of every instance.
    private static List<(string Name, FederationBrokerOptions Options)> Validate(
        IConfiguration configuration, IReadOnlyList<IConfigurationSection> instances, ICollection<string> problems)
    {
        var services = new ServiceCollection();
        var names = instances.Select(i => i.Key).ToList();
        // Resolving the options takes no default InstanceName (the library names an instance when it starts), so this
        // check leaves the running instances their first default names.
        Register(services, configuration, names, CreatesInMemoryServers(configuration));
        var provider = services.BuildServiceProvider();
        try
        {
            return Validate(provider.GetRequiredService<IOptionsMonitor<FederationBrokerOptions>>(), names, problems);
        }
        finally
        {
            // Transports may be IAsyncDisposable only, which a synchronous disposal refuses; none has connected.
            provider.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static List<(string Name, FederationBrokerOptions Options)> Validate(
        IOptionsMonitor<FederationBrokerOptions> monitor, IReadOnlyList<string> names, ICollection<string> problems)
    {
        var valid = new List<(string, FederationBrokerOptions)>();
        foreach (var name in names)
        {
            try
            {
                valid.Add((name, monitor.Get(name)));
            }
            catch (OptionsValidationException invalid)
            {
                foreach (var failure in invalid.Failures)
                {
                    // The library redacts the URIs it quotes; this also covers a credential inside another value's text.
                    problems.Add(UriRedaction.RedactText(failure));
                }
            }
        }

        return valid;
    }

    // Instances of one cluster on one server share its requests (and replies) through queue groups: one that reads the
    // native envelope and one that reads Choria's would each drop as malformed the share written for the other, about half
    // of every client's requests, with every instance healthy. Only URIs that read the same without credentials count.
    private static void RejectMixedEnvelopes(IReadOnlyList<(string Name, FederationBrokerOptions Options)> instances, ICollection<string> problems)
    {
        static string Server(string? uri) => UriRedaction.Redact(uri ?? "").TrimEnd('/').ToUpperInvariant();
        var reported = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, options) in instances)
        {
            var native = options.Envelope == FederationEnvelopeFormat.Native;
            var other = instances.FirstOrDefault(i => i.Name != name
                && (i.Options.Envelope == FederationEnvelopeFormat.Native) != native
                && string.Equals(i.Options.ClusterName, options.ClusterName, StringComparison.Ordinal)
                && string.Equals(i.Options.SubjectPrefix, options.SubjectPrefix, StringComparison.Ordinal)
                && (Server(i.Options.FederationUri) == Server(options.FederationUri) || Server(i.Options.CollectiveUri) == Server(options.CollectiveUri)));
            if (other.Name is not null && !reported.Contains(other.Name) && reported.Add(name))
            {
                problems.Add($"{SectionName}:{name}:Envelope: '{Spelling(options.Envelope)}' differs from the '{Spelling(other.Options.Envelope)}' of {SectionName}:{other.Name}, "
                    + $"an instance of the cluster '{options.ClusterName}' on the same server; instances of one cluster share its requests and replies, so each would drop those written for the other: give them one Envelope");
            }
        }
    }

    private static string Spelling(FederationEnvelopeFormat envelope) => envelope switch
    {
        FederationEnvelopeFormat.Native => "native",
        FederationEnvelopeFormat.ChoriaV1 => "choria-v1",
        FederationEnvelopeFormat.ChoriaV2 => "choria-v2",
        _ => "choria",
    };

    // Two instances of one cluster under one name would each warn about the other at run time (and count into one set of
    // metrics); in one host's configuration that is a mistake to refuse before anything starts.
    private static void RejectSharedInstanceNames(IReadOnlyList<(string Name, FederationBrokerOptions Options)> instances, ICollection<string> problems)
    {
        // Defaults (unset here) are unique per instance, so they are never duplicates.
        var named = instances.Where(i => i.Options.InstanceName is not null);
        foreach (var group in named.GroupBy(i => (i.Options.ClusterName, i.Options.InstanceName)).Where(g => g.Count() > 1))
        {
            var first = group.First().Name;
            foreach (var (name, options) in group.Skip(1))
            {
                problems.Add($"{SectionName}:{name}:InstanceName: '{options.InstanceName}' is also the instance name of {SectionName}:{first} in the cluster '{options.ClusterName}'; each instance of a cluster needs its own name");
            }
        }
    }
}
