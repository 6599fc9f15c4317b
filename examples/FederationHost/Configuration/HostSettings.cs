using System.Globalization;
using System.Net;
using Federation.Core.Transport;
using Microsoft.Extensions.Configuration;

namespace FederationHost.Configuration;

/// <summary>
/// The <c>Host</c> section: where the HTTP endpoints listen and how the demo in-memory brokers are handled.
/// The status and restart endpoints have no authentication, so by default they may only listen on a loopback address.
/// </summary>
/// <param name="Url">The single URL Kestrel listens on (<c>Host:Url</c>).</param>
/// <param name="Address">The IP address to bind, or null for <c>localhost</c> (both loopback addresses).</param>
/// <param name="Port">The port to bind; 0 picks a free one.</param>
/// <param name="CreateInMemoryBrokers">Whether brokers named by <c>memory://</c> URIs are created on demand (<c>Host:CreateInMemoryBrokers</c>).</param>
/// <param name="MeterNames">Meters exported on <c>/metrics</c>: <c>Federation.Core</c> plus <c>Host:Metrics:Meters</c>.</param>
/// <param name="DemoExchanges">Topic exchanges declared on an in-memory downstream at start (<c>Host:Demo:Exchanges</c>), so the demo configuration has links to show.</param>
public sealed record HostSettings(
    Uri Url,
    IPAddress? Address,
    int Port,
    bool CreateInMemoryBrokers,
    IReadOnlyList<string> MeterNames,
    IReadOnlyList<string> DemoExchanges)
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Host";

    /// <summary>The listen URL when <c>Host:Url</c> is not set.</summary>
    public const string DefaultUrl = "http://127.0.0.1:15690";

    /// <summary>Reads and checks the <c>Host</c> section.</summary>
    /// <exception cref="HostConfigurationException">The URL is malformed, not http, or not loopback without <c>Host:AllowRemote=true</c>.</exception>
    public static HostSettings From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(SectionName);
        var text = section["Url"] is { Length: > 0 } configured ? configured : DefaultUrl;

        // Errors quote the URL without user information: a URL with credentials is refused, but not by repeating them.
        var shown = UriRedaction.Redact(text);
        var allowRemote = ReadBool(section, "AllowRemote", false);
        var createBrokers = ReadBool(section, "CreateInMemoryBrokers", true);

        if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme != Uri.UriSchemeHttp || url.AbsolutePath != "/" ||
            url.Query.Length > 0 || url.UserInfo.Length > 0)
        {
            throw new HostConfigurationException(
                $"Host:Url: '{shown}' is not a plain http URL such as {DefaultUrl} (https, paths, queries and credentials are not supported).");
        }

        IPAddress? address = null;
        bool loopback;
        if (string.Equals(url.Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            loopback = true;
        }
        else if (IPAddress.TryParse(url.Host.Trim('[', ']'), out var parsed))
        {
            address = parsed;
            loopback = IPAddress.IsLoopback(parsed);
        }
        else
        {
            throw new HostConfigurationException(
                $"Host:Url: '{shown}' must name an IP address or localhost, not the host name '{url.Host}', so that the bound interface is explicit.");
        }

        if (!loopback && !allowRemote)
        {
            throw new HostConfigurationException(
                $"Host:Url: '{shown}' is not a loopback address. The federation endpoints (status, restart, metrics) are unauthenticated, " +
                "so the host listens on loopback only; set Host:AllowRemote=true to listen on another interface deliberately.");
        }

        var meters = new List<string> { Federation.Core.Diagnostics.FederationTelemetry.SourceName };
        foreach (var child in section.GetSection("Metrics:Meters").GetChildren())
        {
            if (child.Value is { Length: > 0 } name && !meters.Contains(name, StringComparer.Ordinal))
            {
                meters.Add(name);
            }
        }

        var demoExchanges = section.GetSection("Demo:Exchanges").GetChildren()
            .Select(c => c.Value)
            .OfType<string>()
            .Where(v => v.Length > 0)
            .Distinct(StringComparer.Ordinal)
            .ToList();

        return new HostSettings(url, address, url.Port, createBrokers, meters, demoExchanges);
    }

    private static bool ReadBool(IConfigurationSection section, string key, bool fallback)
    {
        var value = section[key];
        if (string.IsNullOrWhiteSpace(value))
        {
            return fallback;
        }

        return bool.TryParse(value, out var parsed)
            ? parsed
            : throw new HostConfigurationException(
                string.Create(CultureInfo.InvariantCulture, $"Host:{key}: '{value}' is not true or false."));
    }
}
