using Federation.Core.Transport;
using static Federation.Core.Model.ConfigurationErrorText;

namespace Federation.Core.Model;

internal sealed partial class FederationDefinitions
{
    /// <summary>The error for a configuration without a downstream broker.</summary>
    public const string DownstreamRequired = "Downstream:uri: a downstream broker URI is required";

    /// <summary>
    /// Returns every validation error (empty when valid), configuration-reading errors first. Each names the key path in
    /// rabbitmqctl spelling and the bad value, with credentials removed from URIs. This is the one validation of a whole
    /// configuration: the engine runs it at construction and on every update, and the host at start, so a configuration
    /// that could not start is never applied by a reload either.
    /// </summary>
    /// <param name="options">The configuration.</param>
    /// <param name="transports">
    /// The registered transports: every URI must have one for its scheme, and that transport must accept it
    /// (<see cref="Transport.ITransport.ValidateUri"/>). Null checks only that URIs are absolute (for the model alone).
    /// </param>
    public static IReadOnlyList<string> Validate(FederationOptions options, TransportResolver? transports = null)
    {
        ArgumentNullException.ThrowIfNull(options);

        // Every check runs whatever reading found, so that one run reports every mistake; a check about a key that
        // reading already reported is left out (see ReadingErrorPaths).
        var errors = new List<string>();

        if (options.ClusterName is { } clusterName && string.IsNullOrWhiteSpace(clusterName))
        {
            errors.Add(At(nameof(FederationOptions.ClusterName), Quote(clusterName) + " is blank; leave it unset to use the downstream broker's"));
        }

        if (options.InstanceName is { } instanceName && string.IsNullOrWhiteSpace(instanceName))
        {
            errors.Add(At(nameof(FederationOptions.InstanceName), Quote(instanceName) + " is blank; leave it unset for machine:pid"));
        }

        OwnershipValidation.Validate(options.Ownership, errors);
        ValidateDownstream(options.Downstream, transports, errors);

        var errorsBeforeLinks = errors.Count;
        var upstreams = InNameOrder(options.Upstreams, nameof(FederationOptions.Upstreams), errors);
        var usableUris = new Dictionary<string, IList<string>>(StringComparer.Ordinal);
        foreach (var (name, upstream) in upstreams)
        {
            if (UpstreamValidation.ValidateUpstream(upstream, Child(nameof(FederationOptions.Upstreams), name), transports, errors))
            {
                usableUris[name] = upstream.Uris;
            }
        }

        // The reader keeps every entry it found, readable or not; only a section that is not a section of named entries
        // leaves its names unknown, and then references to them cannot be judged until that is fixed.
        var checkReferences = !ReadingErrorPaths.IsAbout(options.ConfigurationErrors, nameof(FederationOptions.Upstreams))
            && !ReadingErrorPaths.IsAbout(options.ConfigurationErrors, nameof(FederationOptions.UpstreamSets))
            && !ReadingErrorPaths.IsAbout(options.ConfigurationErrors, FederationOptions.SectionName);
        var upstreamNames = upstreams.Select(u => u.Key).ToList();
        var sets = InNameOrder(options.UpstreamSets, nameof(FederationOptions.UpstreamSets), errors);
        foreach (var (name, elements) in sets)
        {
            ValidateSet(name, elements, Child(nameof(FederationOptions.UpstreamSets), name), checkReferences ? upstreamNames : null, errors);
            CheckSetAgainstTransports(elements, Child(nameof(FederationOptions.UpstreamSets), name), usableUris, transports, errors);
        }

        var setNames = sets.Select(s => s.Key).ToList();
        foreach (var (name, policy) in InNameOrder(options.Policies, nameof(FederationOptions.Policies), errors))
        {
            var path = Child(nameof(FederationOptions.Policies), name);
            PolicyValidation.Validate(policy, path, errors);
            if (checkReferences && policy?.Definition is { } definition)
            {
                PolicyValidation.ValidateReferences(definition, Child(path, PolicyKeys.Definition), upstreamNames, setNames, errors);
            }
        }

        // Only upstreams, sets and policies that are each valid can be resolved to the links they would run; mistakes
        // elsewhere (Ownership, the downstream) do not hide this check, so that one run still reports every mistake.
        if (errors.Count == errorsBeforeLinks && !options.ConfigurationErrors.Any(IsAboutLinkDefinitions))
        {
            UpstreamQueueSharing.Validate(options, errors);
        }

        return [.. options.ConfigurationErrors, .. ReadingErrorPaths.NotAlreadyReported(options.ConfigurationErrors, errors)];
    }

    // A reading error inside Upstreams, UpstreamSets or Policies (the entries the links are resolved from).
    private static bool IsAboutLinkDefinitions(string readingError) =>
        new[] { nameof(FederationOptions.Upstreams), nameof(FederationOptions.UpstreamSets), nameof(FederationOptions.Policies) }
            .Any(section => readingError.StartsWith(section + ":", StringComparison.Ordinal));

    private static void ValidateDownstream(DownstreamOptions? downstream, TransportResolver? transports, List<string> errors)
    {
        if (downstream is null)
        {
            errors.Add(At(nameof(FederationOptions.Downstream), "is null"));
        }
        else if (string.IsNullOrWhiteSpace(downstream.Uri))
        {
            // Without it a reload would disconnect the downstream and stop (and clean up) every link.
            errors.Add(downstream.Uri is null ? DownstreamRequired : DownstreamRequired + "; " + Quote(downstream.Uri) + " is blank");
        }
        else
        {
            UpstreamValidation.ValidateUri(downstream.Uri, Child(nameof(FederationOptions.Downstream), UpstreamKeys.Uri), transports, errors);
        }
    }

    // upstreamNames is null when references cannot be checked.
    private static void ValidateSet(string name, IList<UpstreamSetElement>? elements, string path, IReadOnlyList<string>? upstreamNames, List<string> errors)
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
            var elementPath = Child(path, i);
            UpstreamValidation.ValidateSetElement(elements[i], elementPath, errors);
            if (upstreamNames is not null && elements[i] is { Upstream: { Length: > 0 } upstream } && !upstreamNames.Contains(upstream, StringComparer.Ordinal))
            {
                // Refused rather than skipped: a typo here must not quietly remove (and clean up) the links it would run.
                errors.Add(At(Child(elementPath, UpstreamKeys.Upstream), Quote(upstream) + " names no defined upstream " + Defined(upstreamNames)));
            }
        }
    }

    // A set element's own values run on its upstream's URIs: an override the upstream's transport refuses fails here, as
    // it would on the upstream itself.
    private static void CheckSetAgainstTransports(IList<UpstreamSetElement>? elements, string path, Dictionary<string, IList<string>> usableUris, TransportResolver? transports, List<string> errors)
    {
        for (var i = 0; i < (elements?.Count ?? 0); i++)
        {
            if (elements![i] is { Upstream: { } upstream } element && usableUris.TryGetValue(upstream, out var uris))
            {
                UpstreamValidation.ValidateForTransports(element, uris, Child(path, i), transports, errors);
            }
        }
    }

    /// <summary>The defined names, for an error about a reference that names none of them.</summary>
    internal static string Defined(IReadOnlyList<string> names) =>
        names.Count == 0 ? "(none is defined)" : "(defined: " + string.Join(", ", names) + ")";

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
