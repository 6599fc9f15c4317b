namespace Federation.Core.Model;

/// <summary>
/// A <c>federation-upstream</c> parameter: where to federate from, and how. Accepts the same JSON that
/// <c>rabbitmqctl set_parameter federation-upstream NAME '{...}'</c> takes (see <c>FromJson</c>).
/// </summary>
public sealed partial class UpstreamDefinition : UpstreamParameters
{
    /// <summary><c>uri</c> (mandatory): one or more broker URIs of the same upstream cluster. Each connect attempt picks one.</summary>
    public IList<string> Uris { get; set; } = new List<string>();
}
