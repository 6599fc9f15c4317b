using Microsoft.Extensions.Configuration;
using static Federation.Core.Model.ConfigurationErrorText;

namespace Federation.Core.Model;

/// <summary>
/// Binds the <c>Federation</c> configuration section to <see cref="FederationOptions"/>. Keys inside upstreams, sets and
/// policies are spelled as rabbitmqctl spells them (<c>max-hops</c>), matched case-insensitively as configuration keys
/// are, and values are parsed invariantly. Reading never throws on bad values: each problem goes to
/// <see cref="FederationOptions.ConfigurationErrors"/> and <see cref="FederationDefinitions.Validate"/> reports it, so that
/// a bad reload is reported instead of tearing down the options pipeline.
/// </summary>
/// <example>
/// <code>
/// "Federation": {
///   "ClusterName": "eu-west",
///   "Downstream": { "uri": "memory://london/%2f" },
///   "Upstreams": { "origin": { "uri": "amqp://user:pass@host:5672/%2f", "max-hops": 1 } },
///   "UpstreamSets": { "primary": [ { "upstream": "origin", "exchange": "orders" } ] },
///   "Policies": { "federate": { "pattern": "^federated\\.", "apply-to": "exchanges", "priority": 10,
///                               "definition": { "federation-upstream-set": "all" } } }
/// }
/// </code>
/// </example>
internal static class FederationConfigurationReader
{
    /// <summary>The keys of the <c>Federation</c> section itself.</summary>
    private static readonly string[] SectionKeys =
    [
        nameof(FederationOptions.ClusterName), nameof(FederationOptions.InstanceName), nameof(FederationOptions.Downstream), nameof(FederationOptions.Upstreams),
        nameof(FederationOptions.UpstreamSets), nameof(FederationOptions.Policies), nameof(FederationOptions.SpreadLinks), nameof(FederationOptions.Ownership),
    ];

    /// <summary>
    /// Replaces everything in <paramref name="target"/> with what <paramref name="section"/> (the <c>Federation</c>
    /// section itself) says, so that a reload fully reflects the new configuration. An upstream, set or policy with
    /// reading errors is kept with what could be read of it (empty when it is not even an object), so that validation
    /// reports its other mistakes in the same run and references to it are judged; its errors make validation fail.
    /// </summary>
    public static void Read(IConfiguration section, FederationOptions target)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(target);
        var errors = new List<string>();

        CheckSectionShape(section, errors);
        target.ClusterName = ReadClusterName(section.GetSection(nameof(FederationOptions.ClusterName)), errors);
        target.InstanceName = ReadClusterName(section.GetSection(nameof(FederationOptions.InstanceName)), errors);
        var spread = section.GetSection(nameof(FederationOptions.SpreadLinks));
        target.SpreadLinks = spread.Value is null || (ParameterReading.ReadBoolean(new ConfigurationParameterValue(spread), nameof(FederationOptions.SpreadLinks), errors) ?? true);
        target.Ownership = OwnershipOptionsReader.Read(section.GetSection(nameof(FederationOptions.Ownership)), errors);
        target.Downstream = ReadDownstream(section.GetSection(nameof(FederationOptions.Downstream)), errors);
        target.Upstreams = ReadNamed(
            section.GetSection(nameof(FederationOptions.Upstreams)), errors, UpstreamParametersReader.ReadUpstream, static () => new UpstreamDefinition());
        target.UpstreamSets = ReadNamed(
            section.GetSection(nameof(FederationOptions.UpstreamSets)), errors, UpstreamParametersReader.ReadSet, static () => new List<UpstreamSetElement>());
        target.Policies = ReadNamed(
            section.GetSection(nameof(FederationOptions.Policies)),
            errors,
            (value, path, policyErrors) => FederationPolicyReader.Read(value, path, acceptExportKeys: false, policyErrors),
            static () => new FederationPolicy());

        target.ConfigurationErrors.Clear();
        foreach (var error in errors)
        {
            target.ConfigurationErrors.Add(error);
        }
    }

    // The section itself: an object with only the keys above. A misspelt key ("Polices") would otherwise be ignored and
    // its content silently missing from the running configuration.
    private static void CheckSectionShape(IConfiguration section, List<string> errors)
    {
        if (section is IConfigurationSection { Value: { Length: > 0 } scalar })
        {
            errors.Add(At(FederationOptions.SectionName, Quote(scalar) + " is not a section"));
            return;
        }

        var children = section.GetChildren().ToList();
        if (children.Count > 0 && children.All(c => int.TryParse(c.Key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _)))
        {
            errors.Add(At(FederationOptions.SectionName, "is a list, not a section"));
            return;
        }

        foreach (var child in children)
        {
            if (!Array.Exists(SectionKeys, key => string.Equals(key, child.Key, StringComparison.OrdinalIgnoreCase)))
            {
                errors.Add(At(child.Key, "Unrecognised terms: not a recognised key; the " + FederationOptions.SectionName
                    + " section accepts " + string.Join(", ", SectionKeys) + KeySuggestion.DidYouMean(child.Key, SectionKeys)));
            }
        }
    }

    // Kept as given, so that an empty or blank name reaches validation and is reported there (for options set in code too).
    // The instance name is read alike.
    private static string? ReadClusterName(IConfigurationSection section, List<string> errors) =>
        section.Exists() ? ParameterReading.ReadString(new ConfigurationParameterValue(section), section.Key, errors) : null;

    private static DownstreamOptions ReadDownstream(IConfigurationSection section, List<string> errors)
    {
        var downstream = new DownstreamOptions();
        var value = new ConfigurationParameterValue(section);
        if (ParameterReading.ReadProperties(value, section.Key, errors, "a section", "; write Downstream:uri", "; write Downstream:uri") is not { } properties)
        {
            return downstream;
        }

        foreach (var (key, item) in properties)
        {
            var path = Child(section.Key, key);
            if (value.KeyComparer.Equals(key, UpstreamKeys.Uri))
            {
                downstream.Uri = ParameterReading.ReadString(item, path, errors);
            }
            else
            {
                errors.Add(Unrecognised(path, key, [UpstreamKeys.Uri]));
            }
        }

        return downstream;
    }

    // Reads each child of a section (an upstream, a set or a policy, by name). One that is not even of the right shape
    // stays as an empty one (its error says why), so that a reference to it is not reported as naming nothing.
    private static Dictionary<string, T> ReadNamed<T>(
        IConfigurationSection section, List<string> errors, Func<IParameterValue, string, ICollection<string>, T?> read, Func<T> unreadable)
        where T : class
    {
        var result = new Dictionary<string, T>(StringComparer.Ordinal);
        var value = new ConfigurationParameterValue(section);
        if (ParameterReading.ReadProperties(value, section.Key, errors, "a section of named entries",
                listHint: "; write an object whose keys are the names (a name of digits only cannot be told from a list position)") is not { } entries)
        {
            return result;
        }

        foreach (var (name, entry) in entries)
        {
            result[name] = read(entry, Child(section.Key, name), errors) ?? unreadable();
        }

        return result;
    }
}
