using FederationHost.Cli;

namespace FederationHost.Logging;

/// <summary>
/// An exception as the console log may print it: the console formatters write <see cref="Exception.ToString"/> of a log
/// entry's exception raw, after the message, and exception messages quote broker text (a vhost, an exchange name, a
/// broker's refusal), so an ESC in one reached the operator's terminal at Debug, where the engine logs each failed attempt
/// with its exception. This one prints the original's dump with every control character written as <c>\xHH</c> (see
/// <see cref="TerminalText"/>): line breaks inside a message too, so that a message cannot forge a log line, while the
/// dump's own lines (one per stack frame, the inner exceptions) stay lines.
/// </summary>
internal sealed class TerminalSafeException : Exception
{
    private readonly Exception original;

    /// <summary>Wraps <paramref name="original"/> for printing.</summary>
    /// <param name="original">The exception logged.</param>
    public TerminalSafeException(Exception original)
        : base(TerminalText.Escape((original ?? throw new ArgumentNullException(nameof(original))).Message))
    {
        this.original = original;
    }

    /// <inheritdoc/>
    public override string? StackTrace => original.StackTrace;

    /// <summary>The original's <see cref="Exception.ToString"/>, escaped for a terminal.</summary>
    public override string ToString()
    {
        var dump = original.ToString();

        // Each message of the chain first, line breaks included; then whatever else the dump holds, keeping its own lines.
        foreach (var message in Messages(original).Where(m => m.Length > 0).Distinct(StringComparer.Ordinal))
        {
            var escaped = TerminalText.Escape(message);
            if (escaped != message)
            {
                dump = dump.Replace(message, escaped, StringComparison.Ordinal);
            }
        }

        return TerminalText.Escape(dump, keepLineBreaks: true);
    }

    private static IEnumerable<string> Messages(Exception exception)
    {
        var pending = new Stack<Exception>([exception]);
        var seen = new HashSet<Exception>(ReferenceEqualityComparer.Instance);
        while (pending.TryPop(out var current))
        {
            if (!seen.Add(current))
            {
                continue;
            }

            yield return current.Message;
            if (current is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions)
                {
                    pending.Push(inner);
                }
            }
            else if (current.InnerException is { } inner)
            {
                pending.Push(inner);
            }
        }
    }
}
