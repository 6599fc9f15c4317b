using System.Text.RegularExpressions;

namespace FederationHost.Tests.BadInput;

/// <summary>What must never be in anything the host writes: stack traces (for start-up errors) and secrets.</summary>
public static partial class OutputChecks
{
    /// <summary>Fails if any of <paramref name="secrets"/> occurs in <paramref name="text"/>; the message names where, not the secret's context.</summary>
    public static void NoSecret(string text, IEnumerable<string> secrets, string where)
    {
        foreach (var secret in secrets)
        {
            var at = text.IndexOf(secret, StringComparison.Ordinal);
            if (at >= 0)
            {
                var line = text[(text.LastIndexOf('\n', at) + 1)..];
                var end = line.IndexOf('\n', StringComparison.Ordinal);
                Assert.Fail($"The secret '{secret}' leaked into {where}: {(end < 0 ? line : line[..end])}");
            }
        }
    }

    /// <summary>Fails if <paramref name="text"/> holds a .NET stack frame (<c>   at Type.Method(...)</c>) or an unhandled-exception banner.</summary>
    public static void NoStackTrace(string text, string where)
    {
        var frame = StackFrame().Match(text);
        Assert.False(frame.Success, $"{where} has a stack trace line: {frame.Value.Trim()}");
        Assert.DoesNotContain("Unhandled exception", text, StringComparison.Ordinal);
    }

    /// <summary>The lines of <paramref name="stderr"/> that start with <c>FederationHost:</c>, the host's own error lines.</summary>
    public static IReadOnlyList<string> HostErrorLines(string stderr) =>
        stderr.Split('\n').Where(l => l.StartsWith("FederationHost:", StringComparison.Ordinal)).ToList();

    [GeneratedRegex(@"^\s+at \S.*\(.*\)", RegexOptions.Multiline)]
    private static partial Regex StackFrame();
}
