using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Federation.Amqp.IntegrationTests;

/// <summary>A logger factory that records every entry, debug included, with its formatted message and exception, so tests can assert what was logged.</summary>
internal sealed class CapturedLogs : ILoggerFactory
{
    private readonly ConcurrentQueue<Entry> entries = new();

    public IReadOnlyList<Entry> Entries => [.. entries];

    /// <summary>Every entry as one text: level, category, message and the exception with its inner ones, as a log sink would print it.</summary>
    public string Text => string.Join(Environment.NewLine, entries.Select(e => $"{e.Level} {e.Category}: {e.Message} {e.Exception}"));

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, entries);

    public void AddProvider(ILoggerProvider provider)
    {
    }

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
