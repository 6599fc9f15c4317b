namespace Federation.Core.Collectives;

/// <summary>
/// The header names of the federation envelope. The envelope travels in message headers so a federation broker never
/// opens or changes the body: end-to-end signatures over the body stay valid. Names are compared case-insensitively.
/// </summary>
public static class FederationHeaders
{
    /// <summary>The request id, set by the client and copied into every reply (single value, 1 to 128 characters).</summary>
    public const string RequestId = "Federation-Request-Id";

    /// <summary>One target subject in the member collective per header field; repeated for several targets. Requests only.</summary>
    public const string Target = "Federation-Target";

    /// <summary>The client's reply subject on the federation (single value). The broker routes replies back to it.</summary>
    public const string ReplyTo = "Federation-Reply-To";

    /// <summary>
    /// One hop of the seen-by trail per header field, in order: a JSON array <c>["in-server","processor","out-server"]</c>
    /// (see <see cref="SeenByHop"/>). Clients add their own hop; every broker pass appends one.
    /// </summary>
    public const string SeenBy = "Federation-Seen-By";

    /// <summary>How many broker passes the message has had (single value, a non-negative integer; missing means 0).</summary>
    public const string Hops = "Federation-Hops";

    /// <summary>True when <paramref name="name"/> is one of the envelope's headers.</summary>
    public static bool IsEnvelopeHeader(string name) =>
        string.Equals(name, RequestId, StringComparison.OrdinalIgnoreCase)
        || string.Equals(name, Target, StringComparison.OrdinalIgnoreCase)
        || string.Equals(name, ReplyTo, StringComparison.OrdinalIgnoreCase)
        || string.Equals(name, SeenBy, StringComparison.OrdinalIgnoreCase)
        || string.Equals(name, Hops, StringComparison.OrdinalIgnoreCase);
}
