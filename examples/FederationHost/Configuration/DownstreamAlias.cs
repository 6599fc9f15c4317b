using Federation.Core.Model;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace FederationHost.Configuration;

/// <summary>
/// Accepts a top-level <c>"Downstream": { "uri": ... }</c> section as an alias for <c>Federation:Downstream:uri</c>,
/// so a deployment can set the one value that differs per node (FEDERATION__... aside, DOWNSTREAM__URI) without repeating
/// the Federation section. When both are set, <c>Federation:Downstream:uri</c> wins. It runs as a post-configure step,
/// so it is re-applied on every reload together with the rest of the Federation section.
/// </summary>
/// <param name="configuration">The root configuration.</param>
internal sealed class DownstreamAlias(IConfiguration configuration) : IPostConfigureOptions<FederationOptions>
{
    public const string Key = "Downstream:uri";

    public void PostConfigure(string? name, FederationOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.Downstream.Uri) && configuration[Key] is { Length: > 0 } alias)
        {
            options.Downstream.Uri = alias;
        }
    }
}
