using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace FederationHost.Configuration;

/// <summary>
/// The <c>Host</c> and <c>Telemetry</c> sections are read once, at start (the listener, the meters, the exporters cannot
/// change under a running host). A reload used to pass over them in silence, so a mistake there surfaced only at the next
/// start, as exit code 2. Here every configuration change checks them as start does: a mistake is logged at warning
/// naming each key, a valid change is logged at warning saying it needs a restart; the running host keeps the settings it
/// started with either way. Each distinct content of the two sections is reported once, however often a save is notified.
/// </summary>
public sealed partial class HostSettingsReload : IDisposable
{
    private static readonly string[] Sections = [HostSettings.SectionName, TelemetrySettings.SectionName];

    private readonly IConfiguration _configuration;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly string _started;
    private readonly IDisposable _subscription;
    private string _lastSeen;

    /// <summary>Takes the sections as they are now as the running ones, and checks them again at every change of <paramref name="configuration"/>.</summary>
    /// <param name="configuration">The host's configuration root.</param>
    /// <param name="logger">Where problems and changes are reported.</param>
    public HostSettingsReload(IConfiguration configuration, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(logger);
        _configuration = configuration;
        _logger = logger;
        _started = ConfigurationSnapshot.Of(configuration, Sections);
        _lastSeen = _started;
        _subscription = ChangeToken.OnChange(configuration.GetReloadToken, Check);
    }

    /// <inheritdoc/>
    public void Dispose() => _subscription.Dispose();

    private void Check()
    {
        lock (_gate)
        {
            var seen = ConfigurationSnapshot.Of(_configuration, Sections);
            if (seen == _lastSeen)
            {
                // Unchanged, or a second notification of one save: reported already, if there was anything to report.
                return;
            }

            _lastSeen = seen;
            var problems = new List<string>();
            _ = HostSettings.Read(_configuration, problems);
            _ = TelemetrySettings.Read(_configuration, problems);
            if (problems.Count > 0)
            {
                LogInvalid(_logger, problems.Count, string.Join("; ", problems));
            }
            else if (seen != _started)
            {
                LogNeedsRestart(_logger);
            }
        }
    }

    [LoggerMessage(EventId = 5004, Level = LogLevel.Warning,
        Message = "The Host or Telemetry section changed but is invalid; the running host keeps the settings it started with, and the next start would refuse them (exit code 2). {Count} problem(s): {Problems}")]
    private static partial void LogInvalid(ILogger logger, int count, string problems);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Warning,
        Message = "The Host or Telemetry section changed; these settings are read at start only, so the running host keeps the ones it started with until a restart.")]
    private static partial void LogNeedsRestart(ILogger logger);
}
