using Microsoft.Extensions.Logging;

namespace Federation.Core.Diagnostics;

/// <summary>
/// Wraps the logger factory the engine is given so that every exception it logs passes through
/// <see cref="RedactedException.For"/>: the engine's own messages carry only redacted URIs, but the exceptions it logs
/// come partly from client libraries, whose text the engine does not control.
/// </summary>
internal sealed class RedactingLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    /// <summary>Wraps <paramref name="factory"/> unless it already redacts.</summary>
    public static ILoggerFactory Wrap(ILoggerFactory factory) =>
        factory is RedactingLoggerFactory ? factory : new RedactingLoggerFactory(factory);

    public ILogger CreateLogger(string categoryName) => new RedactingLogger(inner.CreateLogger(categoryName));

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    // The inner factory belongs to the caller (usually the DI container); it is not disposed here.
    public void Dispose()
    {
    }

    private sealed class RedactingLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            inner.Log(logLevel, eventId, state, exception is null ? null : RedactedException.For(exception), formatter);
    }
}
