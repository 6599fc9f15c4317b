using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace FederationHost.Startup;

/// <summary>
/// Keeps the generic host's own "Hosting failed to start" error, which carries the exception and its stack trace, off
/// the console while the host starts: <c>Program</c> reports start-up errors itself, one line per problem on stderr.
/// With debug logging on it hides nothing; after start it applies the configured level only, so later errors of the
/// host (a background service that fails) are logged as usual.
/// </summary>
/// <param name="configuration">The live configuration, read on each decision so that a reloaded level applies.</param>
internal sealed class StartupErrorLogFilter(IConfiguration configuration)
{
    /// <summary>The category under which <c>Host.StartAsync</c> logs its failure.</summary>
    public const string Category = "Microsoft.Extensions.Hosting.Internal.Host";

    private volatile bool _started;

    /// <summary>Ends the start-up phase.</summary>
    public void Started() => _started = true;

    /// <summary>
    /// The filter for <see cref="Category"/>. A filter rule replaces the configured level for its category, so the
    /// configured level is applied here as well.
    /// </summary>
    public bool IsEnabled(LogLevel level)
    {
        var minimum = ConfiguredLogLevel.For(configuration, Category);
        if (level < minimum || level == LogLevel.None)
        {
            return false;
        }

        return _started || level < LogLevel.Error || ConfiguredLogLevel.IsDebugOn(configuration);
    }
}
