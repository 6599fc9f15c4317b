using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace FederationHost.Tests;

/// <summary>
/// A logger provider (and logger) that keeps every record, for asserting what the host logged; added to a host's
/// logger factory it sees what passes the host's own level filters.
/// </summary>
public sealed class CapturedLogs : ILoggerProvider, ILogger
{
    private readonly ConcurrentQueue<Record> _records = new();

    /// <summary>One log record, with its message formatted and its exception's full text.</summary>
    /// <param name="Category">The logger's category.</param>
    /// <param name="Level">The level.</param>
    /// <param name="EventId">The event id.</param>
    /// <param name="Message">The formatted message.</param>
    /// <param name="Exception">The exception's full text (with stack trace), if any.</param>
    /// <param name="ExceptionMessages">The messages of the exception chain joined by <c> | </c>, empty if none.</param>
    /// <param name="Values">The structured values (<c>key=value, ...</c>): a JSON sink writes each of them, not only the message.</param>
    public sealed record Record(string Category, LogLevel Level, EventId EventId, string Message, string? Exception, string ExceptionMessages, string Values)
    {
        /// <summary>What the record says without stack traces: the message and the messages of its exception chain.</summary>
        public string Statement => ExceptionMessages.Length == 0 ? Message : Message + " | " + ExceptionMessages;

        public override string ToString() => $"{Level} {Category}: {Message} [{Values}]{(Exception is null ? "" : "\n" + Exception)}";
    }

    public IReadOnlyList<Record> Records => [.. _records];

    /// <summary>Every record as text, for secret checks and failure messages.</summary>
    public string Text => string.Join('\n', _records);

    /// <summary>The records at warning or above.</summary>
    public IEnumerable<Record> Warnings => AtLeast(LogLevel.Warning);

    public IEnumerable<Record> AtLeast(LogLevel level) => Records.Where(r => r.Level >= level);

    public ILogger CreateLogger(string categoryName) => new CategoryLogger(this, categoryName);

    void IDisposable.Dispose()
    {
    }

    IDisposable? ILogger.BeginScope<TState>(TState state) => null;

    bool ILogger.IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

    void ILogger.Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Add("", logLevel, eventId, formatter(state, exception), exception, Values(state));

    private void Add(string category, LogLevel level, EventId eventId, string message, Exception? exception, string values) =>
        _records.Enqueue(new Record(category, level, eventId, message, exception?.ToString(), Messages(exception), values));

    private static string Values<TState>(TState state) =>
        state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(", ", pairs.Select(p => $"{p.Key}={p.Value}")) : "";

    private static string Messages(Exception? exception)
    {
        var messages = new List<string>();
        for (var e = exception; e is not null; e = e.InnerException)
        {
            messages.Add(e.Message);
        }

        return string.Join(" | ", messages);
    }

    private sealed class CategoryLogger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Add(category, logLevel, eventId, formatter(state, exception), exception, Values(state));
    }
}
