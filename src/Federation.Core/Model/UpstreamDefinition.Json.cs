namespace Federation.Core.Model;

public sealed partial class UpstreamDefinition
{
    /// <summary>
    /// Reads the JSON that <c>rabbitmqctl set_parameter federation-upstream NAME '{...}'</c> takes, for example
    /// <c>{"uri":"amqp://host/%2f","max-hops":2,"ack-mode":"on-publish"}</c>. Numbers must be JSON numbers and booleans
    /// JSON booleans, as for rabbitmqctl.
    /// </summary>
    /// <param name="json">The parameter value.</param>
    /// <returns>The upstream.</returns>
    /// <exception cref="FederationConfigurationException">
    /// The JSON is malformed, misses <c>uri</c>, has an unknown key, or a value of the wrong type or range; the errors name
    /// each key and value, without credentials.
    /// </exception>
    public static UpstreamDefinition FromJson(string json) =>
        JsonParameterValue.Read(json, (root, errors) =>
        {
            var upstream = UpstreamParametersReader.ReadUpstream(root, "", errors);
            var invalid = new List<string>();
            _ = UpstreamValidation.ValidateUpstream(upstream, "", transports: null, invalid);
            foreach (var error in ReadingErrorPaths.NotAlreadyReported([.. errors], invalid))
            {
                errors.Add(error);
            }

            return upstream;
        });
}
