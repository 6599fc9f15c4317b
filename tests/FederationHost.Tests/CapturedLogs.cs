using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace FederationHost.Tests;

/// <summary>A logger provider (and logger) that keeps every record, for asserting what the host logged.</summary>
public sealed class CapturedLogs : ILoggerProvider, ILogger
{
    private readonly ConcurrentQueue<Record> _records = new();

    /// <summary>One log record, with its message formatted.</summary>
    public sealed record Record(string Category, LogLevel Level, EventId EventId, string Message);

    public IReadOnlyList<Record> Records => [.. _records];

    public IEnumerable<Record> AtLeast(LogLevel level) => Records.Where(r => r.Level >= level);

    public ILogger CreateLogger(string categoryName) => new CategoryLogger(this, categoryName);

    void IDisposable.Dispose()
    {
    }

    IDisposable? ILogger.BeginScope<TState>(TState state) => null;

    bool ILogger.IsEnabled(LogLevel logLevel) => true;

    void ILogger.Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _records.Enqueue(new Record("", logLevel, eventId, formatter(state, exception)));

    private sealed class CategoryLogger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._records.Enqueue(new Record(category, logLevel, eventId, formatter(state, exception)));
    }
}
