namespace Federation.Core.Model;

public sealed partial class UpstreamSetElement
{
    /// <summary>
    /// Reads the JSON that <c>rabbitmqctl set_parameter federation-upstream-set NAME '[...]'</c> takes, for example
    /// <c>[{"upstream":"origin","exchange":"orders"},{"upstream":"backup"}]</c>. Each element needs <c>upstream</c>
    /// and may override any upstream key except <c>uri</c>.
    /// </summary>
    /// <param name="json">The parameter value.</param>
    /// <returns>The set's elements, in order.</returns>
    /// <exception cref="FederationConfigurationException">
    /// The JSON is malformed, is not an array of objects, or an element misses <c>upstream</c>, has <c>uri</c> or an
    /// unknown key, or a value of the wrong type or range; the errors name each key (prefixed by the element's index) and value.
    /// </exception>
    public static IList<UpstreamSetElement> ListFromJson(string json) =>
        JsonParameterValue.Read(json, (root, errors) =>
        {
            var elements = UpstreamParametersReader.ReadSet(root, "", errors) ?? [];
            var invalid = new List<string>();
            for (var i = 0; i < elements.Count; i++)
            {
                UpstreamValidation.ValidateSetElement(elements[i], ConfigurationErrorText.Child("", i), invalid);
            }

            foreach (var error in ReadingErrorPaths.NotAlreadyReported([.. errors], invalid))
            {
                errors.Add(error);
            }

            return elements;
        });
}
