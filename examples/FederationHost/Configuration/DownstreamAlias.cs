using Federation.Core.Model;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace FederationHost.Configuration;

/// <summary>
/// Accepts a top-level <c>"Downstream": { "uri": ... }</c> section as an alias for <c>Federation:Downstream:uri</c>,
/// so a deployment can set the one value that differs per node (FEDERATION__... aside, DOWNSTREAM__URI) without repeating
/// the Federation section. When both are set, <c>Federation:Downstream:uri</c> wins. It runs as a post-configure step,
/// so it is re-applied on every reload together with the rest of the Federation section; a mistake in the alias
/// section (an unknown key, a wrong shape) is added to <see cref="FederationOptions.ConfigurationErrors"/>, so that a
/// reload with it is refused like any other invalid Federation configuration.
/// </summary>
/// <param name="configuration">The root configuration.</param>
internal sealed class DownstreamAlias(IConfiguration configuration) : IPostConfigureOptions<FederationOptions>
{
    public const string SectionName = "Downstream";

    public const string Key = "Downstream:uri";

    private static readonly string[] KnownKeys = ["uri"];

    public void PostConfigure(string? name, FederationOptions options)
    {
        var problems = Check(configuration);
        foreach (var problem in problems)
        {
            options.ConfigurationErrors.Add(problem);
        }

        if (problems.Count == 0 && string.IsNullOrWhiteSpace(options.Downstream.Uri) && configuration[Key] is { Length: > 0 } alias)
        {
            options.Downstream.Uri = alias;
        }
    }

    /// <summary>The problems of the alias section: a single value where the section belongs, unknown keys, a section as <c>uri</c>.</summary>
    public static IReadOnlyList<string> Check(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var problems = new List<string>();
        var section = configuration.GetSection(SectionName);
        if (!ConfigurationShape.RejectValue(section, "a section with the key uri, such as { \"uri\": \"amqp://host:5672/%2f\" }", problems))
        {
            ConfigurationShape.RejectUnknownKeys(section, KnownKeys, problems);
            _ = ConfigurationShape.Value(section.GetSection("uri"), "a single URI", problems);
        }

        return problems;
    }
}
