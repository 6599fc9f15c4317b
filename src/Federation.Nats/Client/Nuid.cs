using System.Security.Cryptography;
using Federation.Core.Transport;

namespace Federation.Nats.Client;

/// <summary>Random unique identifiers (22 base-62 characters, like NUIDs) for inboxes.</summary>
internal static class Nuid
{
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    public static string Next()
    {
        Span<byte> bytes = stackalloc byte[22];
        RandomNumberGenerator.Fill(bytes);
        return string.Create(22, bytes.ToArray(), static (chars, b) =>
        {
            for (var i = 0; i < chars.Length; i++)
            {
                chars[i] = Alphabet[b[i] % 62];
            }
        });
    }
}

/// <summary>A server address parsed from a URL, with credentials kept apart so that they are never printed.</summary>
internal sealed class ServerAddress
{
    private ServerAddress(string host, int port, bool tls, string? user, string? password, string? token)
    {
        Host = host;
        Port = port;
        Tls = tls;
        User = user;
        Password = password;
        Token = token;
    }

    public string Host { get; }

    public int Port { get; }

    public bool Tls { get; }

    public string? User { get; }

    public string? Password { get; }

    public string? Token { get; }

    /// <summary>Parses <c>nats://[user:pass@|token@]host[:port]</c> or <c>tls://…</c>; errors never echo the URL.</summary>
    public static ServerAddress Parse(string url)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        if (!url.Contains("://", StringComparison.Ordinal))
        {
            url = "nats://" + url;
        }

        if (UriUserInfo.FindAmbiguity(url) is { } ambiguity)
        {
            // Uri would take "TOK" of "nats://TOK/EN@host" for the host and send it to DNS: refuse instead.
            throw new ArgumentException($"The server URL '{UriRedaction.Redact(url)}' {ambiguity}", nameof(url));
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            throw new ArgumentException("A server URL is not a valid nats:// or tls:// URL (value not shown, it may hold credentials).", nameof(url));
        }

        var tls = uri.Scheme switch
        {
            "nats" => false,
            "tls" => true,
            _ => throw new ArgumentException($"Unsupported server URL scheme '{uri.Scheme}'; use nats:// or tls://.", nameof(url)),
        };
        string? user = null, password = null, token = null;
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                token = Uri.UnescapeDataString(uri.UserInfo);
            }
            else
            {
                user = Uri.UnescapeDataString(uri.UserInfo[..colon]);
                password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            }
        }

        return new ServerAddress(uri.Host, uri.IsDefaultPort || uri.Port < 0 ? 4222 : uri.Port, tls, user, password, token);
    }

    /// <summary>Parses a <c>connect_urls</c> entry (<c>host:port</c>); discovered servers carry no URL credentials.</summary>
    public static bool TryParseDiscovered(string hostPort, bool tls, out ServerAddress address)
    {
        address = null!;
        if (string.IsNullOrWhiteSpace(hostPort) || hostPort.Contains('@', StringComparison.Ordinal)
            || !Uri.TryCreate((tls ? "tls://" : "nats://") + hostPort, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            return false;
        }

        address = new ServerAddress(uri.Host, uri.IsDefaultPort || uri.Port < 0 ? 4222 : uri.Port, tls, null, null, null);
        return true;
    }

    /// <summary>host:port, safe to log.</summary>
    public override string ToString() => $"{Host}:{Port}";
}
