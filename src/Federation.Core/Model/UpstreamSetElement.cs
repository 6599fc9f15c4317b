namespace Federation.Core.Model;

/// <summary>One element of a <c>federation-upstream-set</c>: an upstream name plus optional overrides (any key but <c>uri</c>).</summary>
public sealed partial class UpstreamSetElement : UpstreamParameters
{
    /// <summary><c>upstream</c> (mandatory): the name of a <c>federation-upstream</c>. An element naming an undefined upstream makes the configuration invalid.</summary>
    public string Upstream { get; set; } = "";
}
