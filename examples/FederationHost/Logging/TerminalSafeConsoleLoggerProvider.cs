using FederationHost.Cli;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace FederationHost.Logging;

/// <summary>
/// The console logger, with every control character of a log message written as <c>\xHH</c> (see <see cref="TerminalText"/>).
/// Log messages quote names from brokers and settings files, and whoever may declare an exchange chooses its name (RabbitMQ
/// keeps an ESC in one): written raw by the <c>simple</c> or <c>systemd</c> formatter, an escape sequence recoloured or
/// rewrote the terminal of an operator reading the log, and a line break forged a log line. The <c>json</c> formatter
/// escapes them itself; its <c>Message</c> gets the same <c>\xHH</c> text, its <c>State</c> stays as it was. The exception
/// printed after the message gets the same treatment (see <see cref="TerminalSafeException"/>), in every formatter.
/// </summary>
/// <remarks>
/// Under the console provider's alias, so that <c>Logging:Console:LogLevel</c> filters it as before; its options
/// (<c>Logging:Console:FormatterName</c>, the formatter options) configure the wrapped provider as before.
/// </remarks>
[ProviderAlias("Console")]
public sealed class TerminalSafeConsoleLoggerProvider(ConsoleLoggerProvider console) : ILoggerProvider, ISupportExternalScope
{
    /// <inheritdoc/>
    public ILogger CreateLogger(string categoryName) => new TerminalSafeLogger(console.CreateLogger(categoryName));

    /// <inheritdoc/>
    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => console.SetScopeProvider(scopeProvider);

    /// <inheritdoc/>
    public void Dispose() => console.Dispose();

    private sealed class TerminalSafeLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            inner.Log(
                logLevel,
                eventId,
                state,
                exception is null ? null : new TerminalSafeException(exception),
                (s, _) => TerminalText.Escape(formatter(s, exception)));
    }
}
