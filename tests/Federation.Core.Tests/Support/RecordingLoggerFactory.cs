using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Support;

/// <summary>Keeps every log entry (all levels) in memory, so tests can assert what was logged and how often.</summary>
internal sealed class RecordingLoggerFactory : ILoggerFactory
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    /// <summary>Entries with event id <paramref name="eventId"/>.</summary>
    public IReadOnlyList<LogEntry> WithId(int eventId) => [.. _entries.Where(e => e.EventId == eventId)];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(RecordingLoggerFactory owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._entries.Enqueue(new LogEntry(category, logLevel, eventId.Id, formatter(state, exception), exception));
    }
}

/// <summary>One recorded log entry.</summary>
internal sealed record LogEntry(string Category, LogLevel Level, int EventId, string Message, Exception? Exception);
