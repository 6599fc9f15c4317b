using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Federation.Amqp.IntegrationTests;

/// <summary>A logger factory that records every entry, debug included, with its formatted message and exception, so tests can assert what was logged.</summary>
internal sealed class CapturedLogs : ILoggerFactory
{
    private readonly ConcurrentQueue<Entry> entries = new();
    private readonly Stopwatch clock = Stopwatch.StartNew();

    public IReadOnlyList<Entry> Entries => [.. entries];

    /// <summary>Every entry as one text: level, category, message and the exception with its inner ones, as a log sink would print it.</summary>
    public string Text => string.Join(Environment.NewLine, entries.Select(e => $"{e.Level} {e.Category}: {e.Message} {e.Exception}"));

    /// <summary>
    /// Every entry from <paramref name="since"/> on at <paramref name="minimum"/> or above, with the seconds since then (on this factory's clock, see <see cref="Now"/>), event id and
    /// exception type: for a failure message that shows which step took the time.
    /// </summary>
    public string Timeline(TimeSpan since, LogLevel minimum = LogLevel.Debug) => string.Join(Environment.NewLine, entries.Where(e => e.At >= since && e.Level >= minimum).Select(e =>
        $"{(e.At - since).TotalSeconds,8:F3} s {e.Level} {e.Category[(e.Category.LastIndexOf('.') + 1)..]} {e.EventId.Id}: {e.Message} {e.Exception?.GetType().Name}"));

    /// <summary>The time on this factory's clock (since it was created), as entries record it in <see cref="Entry.At"/>.</summary>
    public TimeSpan Now => clock.Elapsed;

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, entries, clock);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    /// <summary>One log entry, with its message formatted.</summary>
    internal sealed record Entry(LogLevel Level, string Category, EventId EventId, string Message, Exception? Exception)
    {
        /// <summary>When it was logged, on the factory's clock.</summary>
        public TimeSpan At { get; init; }
    }

    private sealed class Logger(string category, ConcurrentQueue<Entry> entries, Stopwatch clock) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue(new Entry(logLevel, category, eventId, formatter(state, exception), exception) { At = clock.Elapsed });
    }
}
