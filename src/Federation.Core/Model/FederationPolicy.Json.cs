namespace Federation.Core.Model;

public sealed partial class FederationPolicy
{
    /// <summary>
    /// Reads a policy in the shape of a RabbitMQ definitions export or the management API:
    /// <c>{"pattern":"^federated\\.","apply-to":"exchanges","priority":10,"definition":{"federation-upstream-set":"all"}}</c>.
    /// The export's <c>name</c> and <c>vhost</c> keys are accepted and ignored. Definition keys RabbitMQ knows but
    /// federation does not use (for example <c>max-length</c>) are kept in <see cref="FederationPolicyDefinition.OtherKeys"/>.
    /// </summary>
    /// <param name="json">The policy object.</param>
    /// <returns>The policy.</returns>
    /// <exception cref="FederationConfigurationException">
    /// The JSON is malformed, misses <c>pattern</c> or <c>definition</c>, has an empty definition, an unknown key, a value of the wrong type, an invalid regular
    /// expression (or one that cannot be matched in linear time), or more than one federation key; the errors name each key and value.
    /// </exception>
    public static FederationPolicy FromJson(string json) =>
        JsonParameterValue.Read(json, (root, errors) =>
        {
            var policy = FederationPolicyReader.Read(root, "", acceptExportKeys: true, errors);
            if (policy is not null)
            {
                var invalid = new List<string>();
                PolicyValidation.Validate(policy, "", invalid);
                foreach (var error in ReadingErrorPaths.NotAlreadyReported([.. errors], invalid))
                {
                    errors.Add(error);
                }
            }

            return policy!;
        });
}
