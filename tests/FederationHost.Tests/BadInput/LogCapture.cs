using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace FederationHost.Tests.BadInput;

/// <summary>Keeps every log record an in-process host writes (after the host's own level filters), for assertions.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<Record> _records = new();

    /// <summary>One log record, rendered as the console would show it, with the exception's full text.</summary>
    public sealed record Record(LogLevel Level, string Category, string Message, string? Exception, string ExceptionMessages)
    {
        /// <summary>What the record says without stack traces: the message and the messages of its exception chain.</summary>
        public string Statement => ExceptionMessages.Length == 0 ? Message : Message + " | " + ExceptionMessages;

        public override string ToString() => $"{Level} {Category}: {Message}{(Exception is null ? "" : "\n" + Exception)}";
    }

    public IReadOnlyList<Record> Records => _records.ToArray();

    /// <summary>Every record as text, for secret checks and failure messages.</summary>
    public string Text => string.Join('\n', _records);

    /// <summary>The records at warning or above.</summary>
    public IEnumerable<Record> Warnings => _records.Where(r => r.Level >= LogLevel.Warning);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._records.Enqueue(new Record(logLevel, category, formatter(state, exception), exception?.ToString(), Messages(exception)));

        private static string Messages(Exception? exception)
        {
            var messages = new List<string>();
            for (var e = exception; e is not null; e = e.InnerException)
            {
                messages.Add(e.Message);
            }

            return string.Join(" | ", messages);
        }
    }
}
