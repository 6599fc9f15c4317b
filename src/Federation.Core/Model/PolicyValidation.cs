using static Federation.Core.Model.ConfigurationErrorText;

namespace Federation.Core.Model;

/// <summary>Semantic checks of a policy, with rabbitmqctl's rules and wording where it has them.</summary>
internal static class PolicyValidation
{
    /// <summary>Checks one policy.</summary>
    public static void Validate(FederationPolicy? policy, string path, ICollection<string> errors)
    {
        if (policy is null)
        {
            errors.Add(At(path, "is null"));
            return;
        }

        if (policy.Pattern is null)
        {
            errors.Add(Missing(Child(path, PolicyKeys.Pattern)));
        }
        else
        {
            ValidatePattern(policy.Pattern, Child(path, PolicyKeys.Pattern), errors);
        }

        if (!PolicyKeys.ApplyToValues.Contains(policy.ApplyTo, StringComparer.Ordinal))
        {
            errors.Add(At(
                Child(path, PolicyKeys.ApplyTo),
                (policy.ApplyTo is null ? "null" : Quote(policy.ApplyTo)) + " is not one of " + string.Join(", ", PolicyKeys.ApplyToValues)));
        }

        ValidateDefinition(policy.Definition, Child(path, PolicyKeys.Definition), errors);
    }

    private static void ValidateDefinition(FederationPolicyDefinition? definition, string path, ICollection<string> errors)
    {
        if (definition is null)
        {
            errors.Add(At(path, "is null"));
            return;
        }

        var federationKeys = new[] { definition.FederationUpstream, definition.FederationUpstreamSet, definition.FederationUpstreamPattern };
        if (federationKeys.Count(k => k is not null) > 1)
        {
            errors.Add(At(path, PolicyKeys.FederationKeysTogether));
        }

        // A definition with other keys only is deliberate: the policy decides those exchanges without federating them. An
        // empty one can only be a mistake, and it would silently shadow every lower-priority policy.
        if (federationKeys.All(k => k is null) && (definition.OtherKeys is null || definition.OtherKeys.Count == 0))
        {
            errors.Add(At(path, "is empty; give one of federation-upstream, federation-upstream-set or federation-upstream-pattern"));
        }

        // Upstream and set names are never empty, so an empty reference can only be a mistake. An empty pattern is a valid
        // regular expression (it matches every upstream), as it is for the plugin.
        if (definition.FederationUpstream is "")
        {
            errors.Add(At(Child(path, PolicyKeys.FederationUpstream), "'' does not name an upstream"));
        }

        if (definition.FederationUpstreamSet is "")
        {
            errors.Add(At(Child(path, PolicyKeys.FederationUpstreamSet), "'' does not name an upstream set"));
        }

        if (definition.FederationUpstreamPattern is { } upstreamPattern)
        {
            ValidatePattern(upstreamPattern, Child(path, PolicyKeys.FederationUpstreamPattern), errors);
        }

        foreach (var key in definition.OtherKeys?.Keys ?? [])
        {
            var keyPath = Child(path, key);
            if (key is PolicyKeys.FederationUpstream or PolicyKeys.FederationUpstreamSet or PolicyKeys.FederationUpstreamPattern)
            {
                errors.Add(At(keyPath, "is a federation key; set it on the definition's own property, not in OtherKeys"));
            }
            else if (PolicyKeys.FindOtherDefinitionKey(key, StringComparer.Ordinal) is null)
            {
                errors.Add(Unrecognised(
                    keyPath, key, [PolicyKeys.FederationUpstream, PolicyKeys.FederationUpstreamSet, PolicyKeys.FederationUpstreamPattern, .. PolicyKeys.OtherDefinitionKeys]));
            }
        }
    }

    /// <summary>
    /// Checks that the definition's federation key points at something: a defined upstream, a defined set (or <c>all</c>),
    /// or a pattern that matches at least one upstream. Refused rather than tolerated: a typo on reload would otherwise
    /// stop, and clean up the upstream queues of, every link the policy runs.
    /// </summary>
    public static void ValidateReferences(
        FederationPolicyDefinition definition, string path, IReadOnlyList<string> upstreamNames, IReadOnlyList<string> setNames, ICollection<string> errors)
    {
        if (definition.FederationUpstream is { Length: > 0 } upstream && !upstreamNames.Contains(upstream, StringComparer.Ordinal))
        {
            errors.Add(At(
                Child(path, PolicyKeys.FederationUpstream),
                Quote(upstream) + " names no defined upstream " + FederationDefinitions.Defined(upstreamNames)));
        }

        if (definition.FederationUpstreamSet is { Length: > 0 } set
            && set != PolicyKeys.AllUpstreamsSet
            && !setNames.Contains(set, StringComparer.Ordinal))
        {
            errors.Add(At(
                Child(path, PolicyKeys.FederationUpstreamSet),
                Quote(set) + " names no defined upstream set " + FederationDefinitions.Defined([PolicyKeys.AllUpstreamsSet, .. setNames])));
        }

        if (definition.FederationUpstreamPattern is { } pattern
            && PolicyPattern.TryCompile(pattern, out var regex, out _)
            && !upstreamNames.Any(regex!.IsMatch))
        {
            errors.Add(At(
                Child(path, PolicyKeys.FederationUpstreamPattern),
                Quote(pattern) + " matches no defined upstream " + FederationDefinitions.Defined(upstreamNames)));
        }
    }

    private static void ValidatePattern(string pattern, string path, ICollection<string> errors)
    {
        if (!PolicyPattern.TryCompile(pattern, out _, out var problem))
        {
            errors.Add(At(path, Quote(pattern) + " " + problem));
        }
    }
}
