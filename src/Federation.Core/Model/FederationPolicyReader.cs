using static Federation.Core.Model.ConfigurationErrorText;
using static Federation.Core.Model.ParameterReading;

namespace Federation.Core.Model;

/// <summary>
/// Reads a policy (<c>pattern</c>, <c>apply-to</c>, <c>priority</c>, <c>definition</c>) from JSON or configuration.
/// Reads check types only; a read that reported errors still returns what it could read (see <see cref="UpstreamParametersReader"/>),
/// and null only when the value is not an object.
/// Definition keys other than the federation ones go to <see cref="FederationPolicyDefinition.OtherKeys"/>, spelled
/// canonically when RabbitMQ knows them; validation rejects the rest.
/// </summary>
internal static class FederationPolicyReader
{
    /// <summary>Reads a policy object.</summary>
    /// <param name="value">The policy object.</param>
    /// <param name="path">Its key path, for errors.</param>
    /// <param name="acceptExportKeys">Accept and ignore <c>name</c> and <c>vhost</c>, which a definitions export carries.</param>
    /// <param name="errors">Receives every error.</param>
    public static FederationPolicy? Read(IParameterValue value, string path, bool acceptExportKeys, ICollection<string> errors)
    {
        var policy = new FederationPolicy();
        var properties = ReadObject(value, path, errors);
        if (properties is null)
        {
            return null;
        }

        var keys = value.KeyComparer;
        var hasPattern = false;
        var hasDefinition = false;
        foreach (var (key, item) in properties)
        {
            var keyPath = Child(path, key);
            if (keys.Equals(key, PolicyKeys.Pattern))
            {
                hasPattern = true;
                policy.Pattern = ReadString(item, keyPath, errors) ?? "";
            }
            else if (keys.Equals(key, PolicyKeys.ApplyTo))
            {
                policy.ApplyTo = ReadString(item, keyPath, errors) ?? "";
            }
            else if (keys.Equals(key, PolicyKeys.Priority))
            {
                policy.Priority = ReadInt32(item, keyPath, errors) ?? 0;
            }
            else if (keys.Equals(key, PolicyKeys.Definition))
            {
                hasDefinition = true;
                policy.Definition = ReadDefinition(item, keyPath, errors);
            }
            else if (acceptExportKeys && (keys.Equals(key, PolicyKeys.Name) || keys.Equals(key, PolicyKeys.Vhost)))
            {
                _ = ReadString(item, keyPath, errors);
            }
            else
            {
                errors.Add(Unrecognised(keyPath, key, [PolicyKeys.Pattern, PolicyKeys.ApplyTo, PolicyKeys.Priority, PolicyKeys.Definition]));
            }
        }

        if (!hasPattern)
        {
            errors.Add(Missing(Child(path, PolicyKeys.Pattern)));
        }

        // Without a definition the policy would match exchanges and federate nothing, silently (rabbitmqctl requires one too).
        if (!hasDefinition)
        {
            errors.Add(Missing(Child(path, PolicyKeys.Definition)));
        }

        return policy;
    }

    private static FederationPolicyDefinition ReadDefinition(IParameterValue value, string path, ICollection<string> errors)
    {
        var definition = new FederationPolicyDefinition();
        var keys = value.KeyComparer;
        foreach (var (key, item) in ReadObject(value, path, errors) ?? [])
        {
            var keyPath = Child(path, key);
            if (keys.Equals(key, PolicyKeys.FederationUpstream))
            {
                definition.FederationUpstream = ReadString(item, keyPath, errors);
            }
            else if (keys.Equals(key, PolicyKeys.FederationUpstreamSet))
            {
                definition.FederationUpstreamSet = ReadString(item, keyPath, errors);
            }
            else if (keys.Equals(key, PolicyKeys.FederationUpstreamPattern))
            {
                definition.FederationUpstreamPattern = ReadString(item, keyPath, errors);
            }
            else
            {
                definition.OtherKeys[PolicyKeys.FindOtherDefinitionKey(key, keys) ?? key] = item.Text;
            }
        }

        return definition;
    }
}
