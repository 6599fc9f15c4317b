using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace FederationHost.Endpoints;

/// <summary>
/// <c>GET /</c>: a status page for operators who would rather look than read JSON. One self-contained HTML file
/// (status.html, embedded in the assembly) with its CSS and script inline, so it works without internet access. It
/// reads only the redacted JSON endpoints, so it shows no credentials. The Content-Security-Policy allows exactly the
/// page's own inline style and script (by hash) and requests to this host, nothing else.
/// </summary>
public static partial class StatusPage
{
    private const string ResourceName = "FederationHost.Endpoints.status.html";

    private static readonly Lazy<(string Html, string Policy)> Page = new(Load);

    /// <summary>The page's HTML, as served.</summary>
    public static string Html => Page.Value.Html;

    /// <summary>The Content-Security-Policy served with the page: no origin but this host, inline code allowed only by hash.</summary>
    public static string ContentSecurityPolicy => Page.Value.Policy;

    /// <summary>Writes the page with headers that keep it from being framed, sniffed, cached or leaking a referrer.</summary>
    internal static IResult Serve(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers.CacheControl = "no-store";
        headers["Referrer-Policy"] = "no-referrer";
        return Results.Content(Html, "text/html; charset=utf-8");
    }

    private static (string Html, string Policy) Load()
    {
        using var stream = typeof(StatusPage).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing from {typeof(StatusPage).Assembly.GetName().Name}.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var html = reader.ReadToEnd();
        var policy = string.Join("; ",
            "default-src 'none'",
            $"script-src {Hash(html, ScriptBlock())}",
            $"style-src {Hash(html, StyleBlock())}",
            "connect-src 'self'",
            "img-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'");
        return (html, policy);
    }

    // The browser hashes the exact text between the tags, so the hash is taken from the file as served.
    private static string Hash(string html, Regex block)
    {
        var match = block.Match(html);
        if (!match.Success)
        {
            throw new InvalidOperationException($"{ResourceName} has no block matching {block}.");
        }

        return $"'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(match.Groups[1].Value)))}'";
    }

    [GeneratedRegex("<script>(.*?)</script>", RegexOptions.Singleline)]
    private static partial Regex ScriptBlock();

    [GeneratedRegex("<style>(.*?)</style>", RegexOptions.Singleline)]
    private static partial Regex StyleBlock();
}
