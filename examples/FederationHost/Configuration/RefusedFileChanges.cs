using Microsoft.Extensions.Logging;

namespace FederationHost.Configuration;

/// <summary>
/// Where a <see cref="LastGoodJsonConfigurationProvider"/> reports a settings file change it refused. Configuration
/// providers exist before logging does, so reports made before <see cref="LogTo"/> are kept and logged then.
/// </summary>
public sealed partial class RefusedFileChanges
{
    private readonly Lock _gate = new();
    private readonly List<(string File, string Problem)> _pending = [];
    private ILogger? _logger;

    /// <summary>Logs a refused change at warning, now or once a logger is attached.</summary>
    /// <param name="file">The file's path.</param>
    /// <param name="problem">Why its new content cannot be used.</param>
    public void Report(string file, string problem)
    {
        ILogger logger;
        lock (_gate)
        {
            if (_logger is null)
            {
                _pending.Add((file, problem));
                return;
            }

            logger = _logger;
        }

        LogRefused(logger, file, problem);
    }

    /// <summary>Logs every report so far, and every later one, to <paramref name="logger"/>.</summary>
    public void LogTo(ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        (string File, string Problem)[] pending;
        lock (_gate)
        {
            _logger = logger;
            pending = [.. _pending];
            _pending.Clear();
        }

        foreach (var (file, problem) in pending)
        {
            LogRefused(logger, file, problem);
        }
    }

    // A JSON reader's message ends with a full stop of its own, and the message adds one.
    private static void LogRefused(ILogger logger, string file, string problem) => LogRefusedChange(logger, file, problem.TrimEnd().TrimEnd('.'));

    [LoggerMessage(EventId = 5003, Level = LogLevel.Warning,
        Message = "Configuration file '{File}' changed but cannot be used: {Problem}. The configuration read before stays in force.")]
    private static partial void LogRefusedChange(ILogger logger, string file, string problem);
}
