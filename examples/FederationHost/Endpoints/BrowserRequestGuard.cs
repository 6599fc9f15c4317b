using System.Net;
using FederationHost.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace FederationHost.Endpoints;

/// <summary>
/// Keeps web pages in the operator's browser away from the unauthenticated endpoints. A page on any site can send a
/// POST to <c>http://127.0.0.1:15690/federation/links/{id}/restart</c> (the browser does not let it read the answer, but
/// the restart happens), and a site whose name the attacker re-points at 127.0.0.1 (DNS rebinding) can read every
/// endpoint as its own origin. So:
/// <list type="bullet">
/// <item>a request that changes something (any method but GET, HEAD and OPTIONS) is refused with 403 when the browser
/// says it comes from another site: a <c>Sec-Fetch-Site</c> other than <c>same-origin</c> or <c>none</c>, or an
/// <c>Origin</c> other than the one the request is addressed to. The status page's own Restart button is same-origin, and
/// the <c>restart</c> command, curl and scripts send neither header;</item>
/// <item>while the host listens on loopback, a request addressed (its <c>Host</c> header) to anything but <c>localhost</c>
/// or a loopback address is refused with 400: only a re-pointed name reaches a loopback listener under another name.</item>
/// </list>
/// </summary>
internal static class BrowserRequestGuard
{
    /// <summary>Adds the guard in front of every endpoint.</summary>
    public static void UseBrowserRequestGuard(this WebApplication app, HostSettings settings)
    {
        var loopbackOnly = settings.Address is null || IPAddress.IsLoopback(settings.Address);
        app.Use(async (context, next) =>
        {
            if (Refusal(context.Request, loopbackOnly) is { } refusal)
            {
                context.Response.StatusCode = refusal.Status;
                await context.Response.WriteAsJsonAsync(new { error = refusal.Error }, context.RequestAborted).ConfigureAwait(false);
                return;
            }

            await next(context).ConfigureAwait(false);
        });
    }

    /// <summary>Why <paramref name="request"/> is refused, or null to serve it.</summary>
    internal static (int Status, string Error)? Refusal(HttpRequest request, bool loopbackOnly)
    {
        if (loopbackOnly && request.Host.HasValue && !IsLoopbackName(request.Host.Host))
        {
            return (StatusCodes.Status400BadRequest,
                $"The request is addressed to '{Shown(request.Host.Value)}', but this host listens on loopback only and answers requests addressed to localhost or a loopback address (a name pointed at 127.0.0.1 by another site is how a web page reads local services).");
        }

        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method))
        {
            return null;
        }

        var site = request.Headers["Sec-Fetch-Site"].ToString();
        if (site.Length > 0 && site is not ("same-origin" or "none"))
        {
            return (StatusCodes.Status403Forbidden,
                $"Refused: the browser says this {request.Method} comes from another site (Sec-Fetch-Site: {Shown(site)}). Use the status page served here, the 'restart' command or a client that is not a browser.");
        }

        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0 && !SameOrigin(origin, request))
        {
            return (StatusCodes.Status403Forbidden,
                $"Refused: the browser says this {request.Method} comes from the page of '{Shown(origin)}', not from this host's status page. Use the status page served here, the 'restart' command or a client that is not a browser.");
        }

        return null;
    }

    // Compared as URIs, so that a default port written out or left out, and the case of the name, make no difference.
    private static bool SameOrigin(string origin, HttpRequest request) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var page)
        && Uri.TryCreate($"{request.Scheme}://{request.Host.Value}", UriKind.Absolute, out var addressed)
        && string.Equals(page.Scheme, addressed.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(page.Authority, addressed.Authority, StringComparison.OrdinalIgnoreCase);

    private static bool IsLoopbackName(string host)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return IPAddress.TryParse(host.Trim('[', ']'), out var address)
            && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
    }

    // What a client sent, shown short and printable: a header can hold anything.
    private static string Shown(string value)
    {
        var printable = new string([.. value.Take(100).Select(c => char.IsControl(c) ? '?' : c)]);
        return value.Length > 100 ? printable + "..." : printable;
    }
}
