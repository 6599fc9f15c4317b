using System.Net;
using System.Text.Json;

namespace FederationHost.Cli;

/// <summary>
/// The HTTP side of <c>status</c> and <c>restart</c>: the <c>--url</c> option, and a request whose failure to reach the
/// host becomes one line rather than a stack trace.
/// </summary>
internal sealed class HostClient : IDisposable
{
    // A host on loopback answers in milliseconds; this only bounds a hung one, so that the command never hangs.
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(15);

    private readonly HttpClient _http;

    private HostClient(Uri baseAddress) => _http = new HttpClient { BaseAddress = baseAddress, Timeout = RequestTimeout };

    public Uri BaseAddress => _http.BaseAddress!;

    /// <summary>
    /// Reads <c>--url URL</c> (or <c>--url=URL</c>, by default <c>Host:Url</c> of the host's appsettings.json) and <c>--contentRoot DIR</c> from <paramref name="args"/>; the other arguments are left in
    /// <paramref name="rest"/>. False with the reason when the option has no value or the URL is not absolute http(s).
    /// </summary>
    public static bool TryCreate(IReadOnlyList<string> args, out HostClient? client, out List<string> rest, out string? problem)
    {
        client = null;
        rest = [.. args];
        if (!HostSettingsFile.TryFind(rest, out var settings, out problem))
        {
            return false;
        }

        args = [.. rest];
        rest = [];
        string? url = null;
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--url")
            {
                if (i + 1 >= args.Count)
                {
                    problem = "--url needs a value, such as --url http://127.0.0.1:15690";
                    return false;
                }

                url = args[++i];
            }
            else if (args[i].StartsWith("--url=", StringComparison.Ordinal))
            {
                url = args[i]["--url=".Length..];
            }
            else
            {
                rest.Add(args[i]);
            }
        }

        url ??= settings!.HostUrl();
        if (!Uri.TryCreate(url, UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https") || address.UserInfo.Length > 0)
        {
            // A URL with user information is refused without being echoed: it would put a password on the screen.
            problem = address is { UserInfo.Length: > 0 }
                ? "--url: credentials in the URL are not supported"
                : $"--url: '{url}' is not an http URL such as http://127.0.0.1:15690";
            return false;
        }

        client = new HostClient(new Uri(address.GetLeftPart(UriPartial.Authority) + "/"));
        problem = null;
        return true;
    }

    /// <summary>
    /// Sends the request; null with the reason when the host cannot be reached or does not answer in time.
    /// <paramref name="unansweredConsequence"/>, when given, is added to the reason for a host that took the connection
    /// but did not answer in time: the request reached it then, and a paused host acts on it once it resumes.
    /// </summary>
    public async Task<(HttpStatusCode Status, JsonElement Body)?> SendAsync(HttpMethod method, string path, Action<string> unreachable, CancellationToken cancellationToken, string? unansweredConsequence = null)
    {
        try
        {
            using var request = new HttpRequestMessage(method, path);
            using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            JsonElement body = default;
            if (text.Length > 0)
            {
                try
                {
                    using var document = JsonDocument.Parse(text);
                    body = document.RootElement.Clone();
                }
                catch (JsonException)
                {
                    // Not this host (or not JSON): the caller reports the status code.
                }
            }

            return (response.StatusCode, body);
        }
        catch (HttpRequestException error)
        {
            unreachable($"cannot reach the federation host at {BaseAddress}: {error.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            unreachable($"the federation host at {BaseAddress} did not answer within {RequestTimeout.TotalSeconds:0} s{unansweredConsequence}");
        }

        return null;
    }

    public void Dispose() => _http.Dispose();
}
