using static Federation.Core.Model.ConfigurationErrorText;

namespace Federation.Core.Model;

internal sealed partial class FederationDefinitions
{
    /// <summary>
    /// Returns every validation error (empty when valid), configuration-reading errors first. Each names the key path in
    /// rabbitmqctl spelling and the bad value, with credentials removed from URIs.
    /// </summary>
    public static IReadOnlyList<string> Validate(FederationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>(options.ConfigurationErrors);

        if (options.ClusterName is { } clusterName && string.IsNullOrWhiteSpace(clusterName))
        {
            errors.Add(At(nameof(FederationOptions.ClusterName), Quote(clusterName) + " is blank; leave it unset to use the downstream broker's"));
        }

        if (options.Downstream?.Uri is { } downstreamUri)
        {
            UpstreamValidation.ValidateAbsoluteUri(downstreamUri, Child(nameof(FederationOptions.Downstream), UpstreamKeys.Uri), errors);
        }

        foreach (var (name, upstream) in InNameOrder(options.Upstreams, nameof(FederationOptions.Upstreams), errors))
        {
            UpstreamValidation.ValidateUpstream(upstream, Child(nameof(FederationOptions.Upstreams), name), errors);
        }

        foreach (var (name, elements) in InNameOrder(options.UpstreamSets, nameof(FederationOptions.UpstreamSets), errors))
        {
            ValidateSet(name, elements, Child(nameof(FederationOptions.UpstreamSets), name), errors);
        }

        foreach (var (name, policy) in InNameOrder(options.Policies, nameof(FederationOptions.Policies), errors))
        {
            PolicyValidation.Validate(policy, Child(nameof(FederationOptions.Policies), name), errors);
        }

        return errors;
    }

    private static void ValidateSet(string name, IList<UpstreamSetElement>? elements, string path, List<string> errors)
    {
        if (name == PolicyKeys.AllUpstreamsSet)
        {
            // The plugin lets one define a set named "all", but a policy naming "all" always means every upstream, so
            // such a set could never be used.
            errors.Add(At(path, "'all' is reserved for the implicit set of every upstream"));
        }

        if (elements is null)
        {
            errors.Add(At(path, "is null"));
            return;
        }

        for (var i = 0; i < elements.Count; i++)
        {
            UpstreamValidation.ValidateSetElement(elements[i], Child(path, i), errors);
        }
    }

    // Entries sorted by name so that errors come out in a stable order; a blank name is an error, since nothing can refer to it.
    private static List<KeyValuePair<string, T>> InNameOrder<T>(IDictionary<string, T>? entries, string path, List<string> errors)
    {
        if (entries is null)
        {
            errors.Add(At(path, "is null"));
            return [];
        }

        foreach (var name in entries.Keys.Where(string.IsNullOrWhiteSpace))
        {
            errors.Add(At(Child(path, name), "has a blank name"));
        }

        return entries.Where(e => !string.IsNullOrWhiteSpace(e.Key)).OrderBy(e => e.Key, StringComparer.Ordinal).ToList();
    }
}
