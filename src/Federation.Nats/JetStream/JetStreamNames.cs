using System.Security.Cryptography;
using System.Text;

namespace Federation.Nats.JetStream;

/// <summary>
/// Names of the JetStream objects a link uses. Stream and consumer names may not contain whitespace, <c>.</c>, <c>*</c>,
/// <c>&gt;</c> or path separators, while queue and exchange names may (<c>federation: orders -&gt; B</c>), so every other
/// character becomes <c>_</c>; a name that had to change gets a hash of the original, so that two names that differ only
/// in replaced characters never meet.
/// </summary>
internal static class JetStreamNames
{
    private const int MaxReadableLength = 64;

    /// <summary>The stream a link creates for an exchange when the URI names none: <c>federation-&lt;exchange&gt;</c>.</summary>
    public static string StreamFor(string exchange) => "federation-" + SubjectSafe(exchange);

    /// <summary>The durable consumer that stands for an upstream queue.</summary>
    public static string ConsumerFor(string queue) => SubjectSafe(queue);

    /// <summary>The subjects an exchange owns: its name (empty routing key) and everything below it.</summary>
    public static string[] SubjectsOf(string exchange) => [exchange, exchange + ".>"];

    /// <summary><paramref name="name"/> with every character but letters, digits, <c>-</c> and <c>_</c> replaced, plus a hash when anything changed.</summary>
    public static string SubjectSafe(string name)
    {
        var builder = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_');
        }

        var safe = builder.ToString();
        if (safe == name && safe.Length <= MaxReadableLength)
        {
            return safe;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)), 0, 4);
        return $"{(safe.Length > MaxReadableLength ? safe[..MaxReadableLength] : safe)}_{hash}";
    }
}
