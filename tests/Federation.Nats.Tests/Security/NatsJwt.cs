using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NATS.NKeys;

namespace Federation.Nats.Tests.Security;

/// <summary>
/// Signs NATS JWTs (v2) for a test operator, account and user, as <c>nsc</c> would: header
/// <c>{"typ":"JWT","alg":"ed25519-nkey"}</c>, claims with the issuer's and the subject's public nkeys, an ed25519
/// signature by the issuer's nkey over <c>header.claims</c>, each part base64url without padding. Enough for a
/// nats-server in operator mode with <c>resolver: MEMORY</c>.
/// </summary>
internal static class NatsJwt
{
    private const string Header = """{"typ":"JWT","alg":"ed25519-nkey"}""";

    /// <summary>A self-signed operator JWT.</summary>
    public static string Operator(KeyPair operatorKey, string name) =>
        Sign(operatorKey, operatorKey.GetPublicKey(), name, new JsonObject { ["type"] = "operator", ["version"] = 2 });

    /// <summary>An account JWT signed by the operator, without limits (a missing limit would read as 0 = nothing allowed).</summary>
    public static string Account(KeyPair operatorKey, KeyPair accountKey, string name) =>
        Sign(operatorKey, accountKey.GetPublicKey(), name, new JsonObject
        {
            ["limits"] = new JsonObject
            {
                ["subs"] = -1, ["data"] = -1, ["payload"] = -1, ["imports"] = -1, ["exports"] = -1,
                ["wildcards"] = true, ["conn"] = -1, ["leaf"] = -1,
            },
            ["default_permissions"] = new JsonObject { ["pub"] = new JsonObject(), ["sub"] = new JsonObject() },
            ["type"] = "account",
            ["version"] = 2,
        });

    /// <summary>A user JWT signed by the account, without limits.</summary>
    public static string User(KeyPair accountKey, KeyPair userKey, string name) =>
        Sign(accountKey, userKey.GetPublicKey(), name, new JsonObject
        {
            ["pub"] = new JsonObject(),
            ["sub"] = new JsonObject(),
            ["subs"] = -1,
            ["data"] = -1,
            ["payload"] = -1,
            ["type"] = "user",
            ["version"] = 2,
        });

    /// <summary>A creds file's text, as <c>nsc generate creds</c> writes it.</summary>
    public static string Creds(string userJwt, KeyPair userKey) => $"""
        -----BEGIN NATS USER JWT-----
        {userJwt}
        ------END NATS USER JWT------

        ************************* IMPORTANT *************************
        NKEY Seed printed below can be used to sign and prove identity.
        NKEYs are sensitive and should be treated as secrets.

        -----BEGIN USER NKEY SEED-----
        {userKey.GetSeed()}
        ------END USER NKEY SEED------

        *************************************************************

        """;

    private static string Sign(KeyPair issuer, string subject, string name, JsonObject nats)
    {
        var claims = new JsonObject
        {
            ["jti"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)),
            ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["iss"] = issuer.GetPublicKey(),
            ["name"] = name,
            ["sub"] = subject,
            ["nats"] = nats,
        };
        var signingInput = $"{Base64Url(Encoding.UTF8.GetBytes(Header))}.{Base64Url(Encoding.UTF8.GetBytes(claims.ToJsonString(new JsonSerializerOptions { WriteIndented = false })))}";
        var signature = new byte[64];
        issuer.Sign(Encoding.ASCII.GetBytes(signingInput), signature);
        return string.Create(CultureInfo.InvariantCulture, $"{signingInput}.{Base64Url(signature)}");
    }

    private static string Base64Url(byte[] data) => Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
