using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Federation.Nats.Tests.JetStream;

/// <summary>Writes the engine's log records at <paramref name="minimum"/> and above to the test's output, so that a failed run shows what the links did.</summary>
/// <param name="output">The test's output.</param>
/// <param name="minimum">The lowest level written.</param>
/// <param name="observe">Also called with each record written (its event id and message), for a test that waits for one; any thread.</param>
internal sealed class TestOutputLoggerFactory(ITestOutputHelper output, LogLevel minimum = LogLevel.Information, Action<EventId, string>? observe = null) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => new OutputLogger(output, minimum, categoryName, observe);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class OutputLogger(ITestOutputHelper output, LogLevel minimum, string category, Action<EventId, string>? observe) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            observe?.Invoke(eventId, formatter(state, exception));
            try
            {
                output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " | " + exception.GetType().Name + ": " + exception.Message)}");
            }
            catch (InvalidOperationException)
            {
                // The test has ended; its output is closed.
            }
        }
    }
}
