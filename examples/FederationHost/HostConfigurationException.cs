namespace FederationHost;

/// <summary>
/// The host's own configuration is unusable: a settings file that cannot be read, or a mistake in the <c>Host</c> or
/// <c>Downstream</c> section. Each problem names the key (or file) and why.
/// </summary>
public sealed class HostConfigurationException : Exception
{
    /// <summary>Creates the exception for one problem.</summary>
    public HostConfigurationException(string message)
        : this(message, innerException: null)
    {
    }

    /// <summary>Creates the exception for every problem found; <see cref="Exception.Message"/> joins them with "; ".</summary>
    public HostConfigurationException(IReadOnlyList<string> problems)
        : base(string.Join("; ", problems ?? throw new ArgumentNullException(nameof(problems))))
    {
        Problems = problems;
    }

    /// <summary>Creates the exception.</summary>
    public HostConfigurationException()
        : this("The host configuration is unusable.")
    {
    }

    /// <summary>Creates the exception for one problem.</summary>
    public HostConfigurationException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Problems = [message];
    }

    /// <summary>Each problem, one line each, in the order found.</summary>
    public IReadOnlyList<string> Problems { get; }
}
