using System.Text;
using System.Text.RegularExpressions;
using Federation.Core.Addressing;

namespace Federation.Core.Collectives;

/// <summary>
/// Decides which subjects a federation broker may publish to, so a request cannot escape into another collective or back
/// into the federation (the Ruby broker's whitelist, which the Go broker left to server ACLs): a target or reply subject
/// must be a valid subject without wildcards, must not lie under the federation prefix (no broker's own subjects), and
/// must match its configured pattern.
/// </summary>
internal sealed class SubjectGuard
{
    /// <summary>
    /// Longest target or reply subject, in UTF-8 bytes. Choria's subjects are short (a node subject holds an FQDN of at
    /// most 253 bytes); a hostile one must not reach the transport: nats-server closes the connection of a client whose
    /// protocol line exceeds its <c>max_control_line</c> (4096 bytes by default), which would cut the broker off.
    /// </summary>
    public const int MaxSubjectBytes = 1024;

    private static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);
    private readonly Regex _target;
    private readonly Regex _reply;
    private readonly string _reservedPrefix;

    public SubjectGuard(FederationBrokerOptions options)
    {
        // Compiled: every relayed message is matched (a target or a reply subject), and a broker lives long enough for the
        // one-off compilation to pay; the interpreter showed up at about 2.6 % of a broker's busy time in a profile.
        _target = new Regex(options.TargetPattern, RegexOptions.CultureInvariant | RegexOptions.Compiled, MatchTimeout);
        _reply = new Regex(options.ReplyPattern, RegexOptions.CultureInvariant | RegexOptions.Compiled, MatchTimeout);
        _reservedPrefix = options.SubjectPrefix + ".";
    }

    /// <summary>Why <paramref name="subject"/> is not an acceptable request target, or null.</summary>
    public string? TargetError(string subject) => Error(subject, _target, "target");

    /// <summary>Why <paramref name="subject"/> is not an acceptable reply subject, or null.</summary>
    public string? ReplyError(string subject) => Error(subject, _reply, "reply");

    private string? Error(string subject, Regex pattern, string role)
    {
        // Measured before anything else, so that no later check (or log line) handles a huge subject.
        if (subject.Length > MaxSubjectBytes || Encoding.UTF8.GetByteCount(subject) > MaxSubjectBytes)
        {
            return $"{role} subject '{subject[..Math.Min(subject.Length, 64)]}...' is longer than {MaxSubjectBytes} bytes";
        }

        if (SubjectGrammar.Explain(subject, SubjectUse.Publish, wildcardsMustBeWholeTokens: true) is { } syntax)
        {
            return $"{role} subject '{subject}' is invalid: {syntax}";
        }

        if (subject.StartsWith(_reservedPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return $"{role} subject '{subject}' is a federation subject";
        }

        try
        {
            return pattern.IsMatch(subject) ? null : $"{role} subject '{subject}' does not match '{pattern}'";
        }
        catch (RegexMatchTimeoutException)
        {
            return $"{role} subject '{subject}' took too long to match '{pattern}'";
        }
    }
}
