using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace FederationHost.Configuration;

/// <summary>
/// The <c>FederationBrokers</c> section is read at start only: each instance is a hosted service with the options it
/// started with, and stopping and starting instances under a running host (with their drain) is not done. So that a change
/// is not ignored in silence, every configuration change checks the section as start does: a mistake is logged at warning
/// naming each key (event 5006), a valid change at warning saying it needs a restart (5007). A host that started without
/// exchange federation (no <c>Federation</c> or <c>Downstream</c> section) cannot start it either: such a section appearing
/// is logged the same way (5008). The running instances keep their settings in every case. Each distinct content of the
/// sections is reported once, however often a save is notified.
/// </summary>
public sealed partial class BrokerSettingsReload : IDisposable
{
    private readonly IConfiguration _configuration;
    private readonly bool _exchangeFederation;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly string _startedBrokers;
    private readonly string _startedFederation;
    private readonly IDisposable _subscription;
    private string _lastSeenBrokers;
    private string _lastSeenFederation;

    /// <summary>Takes the sections as they are now as the running ones, and checks them again at every change of <paramref name="configuration"/>.</summary>
    /// <param name="configuration">The host's configuration root.</param>
    /// <param name="features">What the host started with.</param>
    /// <param name="logger">Where problems and changes are reported.</param>
    public BrokerSettingsReload(IConfiguration configuration, HostFeatures features, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(logger);
        _configuration = configuration;
        _exchangeFederation = features.ExchangeFederation;
        _logger = logger;
        _startedBrokers = ConfigurationSnapshot.Of(configuration, FederationBrokerSettings.SectionName);
        _startedFederation = ConfigurationSnapshot.Of(configuration, FederationHostApp.FederationSection, DownstreamAlias.SectionName);
        _lastSeenBrokers = _startedBrokers;
        _lastSeenFederation = _startedFederation;
        _subscription = ChangeToken.OnChange(configuration.GetReloadToken, Check);
    }

    /// <inheritdoc/>
    public void Dispose() => _subscription.Dispose();

    private void Check()
    {
        lock (_gate)
        {
            CheckBrokers();
            if (!_exchangeFederation)
            {
                CheckFederation();
            }
        }
    }

    private void CheckBrokers()
    {
        var seen = ConfigurationSnapshot.Of(_configuration, FederationBrokerSettings.SectionName);
        if (seen == _lastSeenBrokers)
        {
            return;
        }

        _lastSeenBrokers = seen;
        var problems = new List<string>();
        _ = FederationBrokerSettings.Read(_configuration, problems);
        if (problems.Count > 0)
        {
            LogInvalid(_logger, problems.Count, string.Join("; ", problems));
        }
        else if (seen != _startedBrokers)
        {
            LogNeedsRestart(_logger);
        }
    }

    private void CheckFederation()
    {
        var seen = ConfigurationSnapshot.Of(_configuration, FederationHostApp.FederationSection, DownstreamAlias.SectionName);
        if (seen != _lastSeenFederation)
        {
            _lastSeenFederation = seen;
            if (seen != _startedFederation)
            {
                LogExchangeFederationNeedsRestart(_logger);
            }
        }
    }

    [LoggerMessage(EventId = 5006, Level = LogLevel.Warning,
        Message = "The FederationBrokers section changed but is invalid; the running broker instances keep the settings they started with, and the next start would refuse them (exit code 2). {Count} problem(s): {Problems}")]
    private static partial void LogInvalid(ILogger logger, int count, string problems);

    [LoggerMessage(EventId = 5007, Level = LogLevel.Warning,
        Message = "The FederationBrokers section changed; broker instances are read at start only, so the running ones keep the settings they started with (and none is added or removed) until a restart.")]
    private static partial void LogNeedsRestart(ILogger logger);

    [LoggerMessage(EventId = 5008, Level = LogLevel.Warning,
        Message = "The Federation (or Downstream) section changed, but this host started without exchange federation (only broker instances); it starts exchange federation at the next start only.")]
    private static partial void LogExchangeFederationNeedsRestart(ILogger logger);
}
