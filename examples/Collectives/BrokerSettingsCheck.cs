using Federation.Core.Collectives;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Collectives;

/// <summary>
/// Validates each broker instance's options before the host starts, and names each problem by the example's own setting.
/// Started as it is, the host would log the validation failure with its stack trace and the example would end with an
/// unhandled exception, naming the library's key for one instance (<c>FederationBrokers:london-broker-1:CollectiveUri</c>)
/// rather than what the operator wrote (<c>Example:Collectives:london:Uri</c>).
/// </summary>
internal static class BrokerSettingsCheck
{
    /// <summary>Every problem once, in the example's terms; empty when every instance's options are valid.</summary>
    /// <param name="services">The built host's services.</param>
    /// <param name="collectiveByInstance">Each broker instance's registration name and the collective it joins.</param>
    public static IReadOnlyList<string> Problems(IServiceProvider services, IReadOnlyDictionary<string, string> collectiveByInstance)
    {
        var options = services.GetRequiredService<IOptionsMonitor<FederationBrokerOptions>>();
        var problems = new List<string>();
        foreach (var (instance, collective) in collectiveByInstance)
        {
            try
            {
                _ = options.Get(instance);
            }
            catch (OptionsValidationException error)
            {
                problems.AddRange(error.Failures.Select(failure => InExampleTerms(failure, instance, collective)));
            }
        }

        // Every instance of a collective, and every instance for the federation's URI, reports the same mistake.
        return [.. problems.Distinct(StringComparer.Ordinal)];
    }

    // The validator's failures start with FederationBrokers:<instance>:<key>; the URIs in them are already redacted.
    private static string InExampleTerms(string failure, string instance, string collective)
    {
        var prefix = $"FederationBrokers:{instance}:";
        if (!failure.StartsWith(prefix, StringComparison.Ordinal))
        {
            return failure;
        }

        var rest = failure[prefix.Length..];
        return rest.StartsWith(nameof(FederationBrokerOptions.CollectiveUri), StringComparison.Ordinal)
            ? $"Example:Collectives:{collective}:Uri" + rest[nameof(FederationBrokerOptions.CollectiveUri).Length..]
            : rest.StartsWith(nameof(FederationBrokerOptions.FederationUri), StringComparison.Ordinal)
                ? "Example:FederationUri" + rest[nameof(FederationBrokerOptions.FederationUri).Length..]
                : failure;
    }
}
