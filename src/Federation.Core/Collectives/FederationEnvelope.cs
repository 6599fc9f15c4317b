using System.Globalization;
using Federation.Core.Transport.Messaging;

namespace Federation.Core.Collectives;

/// <summary>
/// The federation envelope read from a message's headers (<see cref="FederationHeaders"/>), plus the headers that are not
/// part of it, in their original order, so the broker can pass them through unchanged.
/// </summary>
internal sealed class FederationEnvelope
{
    /// <summary>Longest request id accepted.</summary>
    public const int MaxRequestIdLength = 128;

    public string? RequestId { get; private set; }

    public string? ReplyTo { get; private set; }

    public int Hops { get; private set; }

    public List<string> Targets { get; } = [];

    public List<string> SeenBy { get; } = [];

    public List<KeyValuePair<string, string>> OtherHeaders { get; } = [];

    /// <summary>Reads the envelope; returns the reason when it is malformed (a single-valued header repeated, a bad hop count or request id, a seen-by hop that is not a JSON array of 3 strings).</summary>
    public static string? TryRead(IReadOnlyList<KeyValuePair<string, string>>? headers, out FederationEnvelope envelope)
    {
        envelope = new FederationEnvelope();
        if (headers is null)
        {
            return null;
        }

        var hopsSeen = false;
        foreach (var header in headers)
        {
            var (name, value) = (header.Key, header.Value);
            if (string.Equals(name, FederationHeaders.Target, StringComparison.OrdinalIgnoreCase))
            {
                envelope.Targets.Add(value);
            }
            else if (string.Equals(name, FederationHeaders.SeenBy, StringComparison.OrdinalIgnoreCase))
            {
                // Passed on unread, but checked as the Choria envelope checks its trail: clients read the hops back.
                if (!SeenByHop.IsWellFormed(value))
                {
                    return $"{FederationHeaders.SeenBy} '{Shorten(value)}' is not a JSON array of 3 strings";
                }

                envelope.SeenBy.Add(value);
            }
            else if (string.Equals(name, FederationHeaders.RequestId, StringComparison.OrdinalIgnoreCase))
            {
                if (envelope.RequestId is not null)
                {
                    return $"{FederationHeaders.RequestId} appears more than once";
                }

                if (value.Length is 0 or > MaxRequestIdLength || HasControl(value))
                {
                    return $"{FederationHeaders.RequestId} '{Shorten(value)}' must be 1 to {MaxRequestIdLength} printable characters";
                }

                envelope.RequestId = value;
            }
            else if (string.Equals(name, FederationHeaders.ReplyTo, StringComparison.OrdinalIgnoreCase))
            {
                if (envelope.ReplyTo is not null)
                {
                    return $"{FederationHeaders.ReplyTo} appears more than once";
                }

                envelope.ReplyTo = value;
            }
            else if (string.Equals(name, FederationHeaders.Hops, StringComparison.OrdinalIgnoreCase))
            {
                if (hopsSeen)
                {
                    return $"{FederationHeaders.Hops} appears more than once";
                }

                if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var hops))
                {
                    return $"{FederationHeaders.Hops} '{Shorten(value)}' is not a non-negative integer";
                }

                hopsSeen = true;
                envelope.Hops = hops;
            }
            else
            {
                envelope.OtherHeaders.Add(header);
            }
        }

        return null;
    }

    /// <summary>Reads the request id of a federated message, or null.</summary>
    public static string? RequestIdOf(SubjectMessage message) => SingleValue(message, FederationHeaders.RequestId);

    /// <summary>The first value of <paramref name="name"/>, or null.</summary>
    public static string? SingleValue(SubjectMessage message, string name)
    {
        if (message.Headers is null)
        {
            return null;
        }

        foreach (var header in message.Headers)
        {
            if (string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                return header.Value;
            }
        }

        return null;
    }

    // A loop rather than value.Any(char.IsControl): no enumerator per message.
    private static bool HasControl(string value)
    {
        foreach (var c in value)
        {
            if (char.IsControl(c))
            {
                return true;
            }
        }

        return false;
    }

    private static string Shorten(string value) => value.Length <= 64 ? value : value[..64] + "...";
}
