using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace Federation.Transport.Contracts.Secrets;

/// <summary>Where a generated secret sits in its URI.</summary>
public enum SecretPlace
{
    /// <summary><c>user:SECRET@host</c>.</summary>
    Password,

    /// <summary><c>SECRET:pw@host</c>.</summary>
    User,

    /// <summary><c>SECRET@host</c> (a NATS token).</summary>
    Token,

    /// <summary><c>?password=SECRET</c>.</summary>
    QueryPassword,

    /// <summary><c>?token=SECRET</c>.</summary>
    QueryToken,
}

/// <summary>A URI that carries <see cref="Secret"/>, raw or percent-encoded, somewhere an operator might put it.</summary>
/// <param name="Uri">The URI as configured.</param>
/// <param name="Secret">The secret itself (before any encoding).</param>
/// <param name="Place">Where it sits.</param>
/// <param name="Encoded">Whether the URI carries it percent-encoded.</param>
/// <param name="Host">The host part as written (<c>[::1]</c> with brackets).</param>
/// <param name="Scheme">The scheme, or "" when the URI has none.</param>
public sealed record SecretUri(string Uri, string Secret, SecretPlace Place, bool Encoded, string Host, string Scheme)
{
    private static readonly SearchValues<char> Ambiguous = SearchValues.Create("/?#@[]");

    /// <summary>Whether the secret sits in the user information, written without encoding.</summary>
    public bool RawInUserInfo => !Encoded && Place is SecretPlace.Password or SecretPlace.User or SecretPlace.Token;

    /// <summary>Whether the URI has a scheme and its user information reads two ways (an unencoded '/', '?', '#', '@', '[' or ']' in the secret).</summary>
    public bool AmbiguousUserInfo =>
        RawInUserInfo && Scheme.Length > 0 && Secret.AsSpan().ContainsAny(Ambiguous);

    /// <inheritdoc />
    public override string ToString() => Uri;
}

/// <summary>
/// FsCheck generators of secret-bearing URIs in every shape (amqp, amqps, nats, tls, memory, no scheme; with and without
/// port, vhost, query and fragment), and the assertion that a text shows no form of a secret.
/// </summary>
/// <remarks>
/// A secret is <c>S3cr</c> + random characters + <c>Zq</c>, so that it cannot appear in other text by chance. The random
/// characters include every reserved character, space, '%' and non-ASCII letters.
/// </remarks>
public static class SecretUris
{
    /// <summary>The schemes of every transport, and none.</summary>
    public static readonly string[] AllSchemes = ["amqp", "amqps", "nats", "tls", "memory", ""];

    private static readonly string[] Reserved = ["/", "?", "#", "@", ":", "[", "]", "%", "&", "=", "+", ",", ";", "!", "$", "'", "(", ")", "*"];

    private static readonly string[] Others = [" ", "~", "-", ".", "_", "a", "Z", "0", "9", "ü", "é", "😀", "%2F", "%40", "%zz", "\"", "<", "\\"];

    /// <summary>Characters that end a URI in free text; <see cref="SecretWithoutWhiteSpace"/> leaves them out.</summary>
    private static readonly string[] WordBreaks = [" ", "'", "\"", "<"];

    /// <summary>Secrets from every character class.</summary>
    public static Gen<string> Secret { get; } = SecretOf([.. Reserved, .. Others]);

    /// <summary>Secrets without white space and quotes: what a URI in free text can be recognised with.</summary>
    public static Gen<string> SecretWithoutWhiteSpace { get; } = SecretOf([.. Reserved.Concat(Others).Except(WordBreaks)]);

    /// <summary>URIs with <paramref name="schemes"/> ("" for none) carrying a secret from <paramref name="secrets"/>.</summary>
    public static Gen<SecretUri> Uris(Gen<string> secrets, params string[] schemes) =>
        from secret in secrets
        from place in Gen.Elements(Enum.GetValues<SecretPlace>())
        from encoded in Gen.Elements(false, true)
        from scheme in Gen.Elements(schemes)
        from host in Gen.Elements("host", "127.0.0.1", "[::1]", "broker.example.org")
        from port in Gen.Elements("", ":5672")
        from path in Gen.Elements("", "/", "/%2f", "/vh")
        from otherQuery in Gen.Elements("", "heartbeat=5")
        from secretFirst in Gen.Elements(false, true)
        from fragment in Gen.Elements("", "#frag")
        from otherCredentials in Gen.Elements("", "guest:guest@")
        select Build(secret, place, encoded, scheme, host, port, path, otherQuery, secretFirst, fragment, otherCredentials);

    /// <summary>Fails when <paramref name="text"/> contains <paramref name="secret"/>, its percent-encoded or its percent-decoded form.</summary>
    public static void AssertAbsent(string secret, string? text, string what)
    {
        if (string.IsNullOrEmpty(text))
        {
            return;
        }

        foreach (var form in Forms(secret))
        {
            Assert.False(text.Contains(form, StringComparison.Ordinal), $"{what} shows the secret '{form}': {text}");
        }
    }

    /// <summary>Whether <paramref name="text"/> contains no form of <paramref name="secret"/>.</summary>
    public static bool IsAbsent(string secret, string? text) =>
        string.IsNullOrEmpty(text) || !Forms(secret).Any(form => text.Contains(form, StringComparison.Ordinal));

    /// <summary>The secret, percent-encoded and percent-decoded.</summary>
    public static IEnumerable<string> Forms(string secret) =>
        new[] { secret, Uri.EscapeDataString(secret), Uri.UnescapeDataString(secret) }.Distinct(StringComparer.Ordinal);

    private static Gen<string> SecretOf(string[] characters) =>
        from chars in Gen.Elements(characters).ArrayOf()
        select "S3cr" + string.Concat(chars) + "Zq";

    private static SecretUri Build(
        string secret, SecretPlace place, bool encoded, string scheme, string host, string port, string path,
        string otherQuery, bool secretFirst, string fragment, string otherCredentials)
    {
        var written = encoded ? Uri.EscapeDataString(secret) : secret;
        var userInfo = place switch
        {
            SecretPlace.Password => "user:" + written + "@",
            SecretPlace.User => written + ":pw@",
            SecretPlace.Token => written + "@",
            _ => otherCredentials,
        };

        var query = new List<string>();
        if (otherQuery.Length > 0)
        {
            query.Add(otherQuery);
        }

        if (place is SecretPlace.QueryPassword or SecretPlace.QueryToken)
        {
            query.Insert(secretFirst ? 0 : query.Count, (place == SecretPlace.QueryPassword ? "password=" : "token=") + written);
        }

        var uri = (scheme.Length > 0 ? scheme + "://" : "") + userInfo + host + port + path
            + (query.Count > 0 ? "?" + string.Join('&', query) : "") + fragment;
        return new SecretUri(uri, secret, place, encoded, host, scheme);
    }
}
