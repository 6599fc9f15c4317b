namespace Federation.Core.Model;

/// <summary>Invalid federation configuration. <see cref="Errors"/> names every offending key and value.</summary>
public sealed class FederationConfigurationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public FederationConfigurationException() : this([]) { }

    /// <summary>Creates the exception.</summary>
    public FederationConfigurationException(string message) : this([message]) { }

    /// <summary>Creates the exception.</summary>
    public FederationConfigurationException(string message, Exception innerException) : base(message, innerException) => Errors = [message];

    /// <summary>Creates the exception from a list of errors.</summary>
    public FederationConfigurationException(IReadOnlyList<string> errors)
        : base(errors.Count == 0 ? "Invalid federation configuration." : "Invalid federation configuration: " + string.Join("; ", errors)) =>
        Errors = errors;

    /// <summary>Each error names the offending key (in rabbitmqctl spelling) and value.</summary>
    public IReadOnlyList<string> Errors { get; }
}
