using Microsoft.Extensions.Logging;

namespace Federation.NatsProfile;

/// <summary>Warnings and errors of the profiled engine on stderr, so a run that loses messages shows why (reconnects, drops).</summary>
internal sealed class StderrLoggerProvider : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new StderrLogger(categoryName);

    public void Dispose()
    {
    }

    private sealed class StderrLogger(string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= (Environment.GetEnvironmentVariable("NATSPROFILE_LOG_LEVEL") is { } level ? Enum.Parse<LogLevel>(level) : LogLevel.Warning);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                Console.Error.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}[{eventId.Id}]: {formatter(state, exception)}{(exception is null ? string.Empty : " | " + exception.GetType().Name + ": " + exception.Message)}");
            }
        }
    }
}

/// <summary>A logger factory over <see cref="StderrLoggerProvider"/> alone.</summary>
internal sealed class StderrLoggerFactory : ILoggerFactory
{
    private readonly StderrLoggerProvider _provider = new();

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public ILogger CreateLogger(string categoryName) => _provider.CreateLogger(categoryName);

    public void Dispose() => _provider.Dispose();
}
