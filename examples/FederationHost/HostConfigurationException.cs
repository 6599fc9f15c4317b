namespace FederationHost;

/// <summary>The host's own configuration (the <c>Host</c> section) is unusable; the message says which key and why.</summary>
public sealed class HostConfigurationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public HostConfigurationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public HostConfigurationException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public HostConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
