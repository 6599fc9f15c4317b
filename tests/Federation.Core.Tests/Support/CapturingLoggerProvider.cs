using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Support;

/// <summary>Records every log entry (level, category, message, exception) so that tests can assert what was logged.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<Entry> _entries = new();

    public IReadOnlyList<Entry> Entries => [.. _entries];

    /// <summary>Entries with event id <paramref name="eventId"/>.</summary>
    public IReadOnlyList<Entry> WithId(int eventId) => [.. _entries.Where(e => e.EventId.Id == eventId)];

    /// <summary>A logger factory that sends every level, debug included, to this provider only.</summary>
    public ILoggerFactory AsFactory() => LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(this));

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

    public void Dispose()
    {
    }

    /// <summary>One log entry, with its message formatted.</summary>
    internal sealed record Entry(LogLevel Level, string Category, EventId EventId, string Message, Exception? Exception);

    private sealed class Logger(string category, ConcurrentQueue<Entry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue(new Entry(logLevel, category, eventId, formatter(state, exception), exception));
    }
}
