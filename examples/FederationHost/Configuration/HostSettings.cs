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

    /// <summary>The keys the <c>Host</c> section accepts.</summary>
    public static readonly IReadOnlyList<string> KnownKeys = ["Url", "AllowRemote", "CreateInMemoryBrokers", "Metrics", "Demo"];

    private const string MetersExample = "[\"Federation.Core\"]";
    private const string ExchangesExample = "[\"federated.orders\"]";

    /// <summary>Reads and checks the <c>Host</c> section.</summary>
    /// <exception cref="HostConfigurationException">
    /// A key is unknown or has the wrong shape, or the URL is malformed, not http, or not loopback without
    /// <c>Host:AllowRemote=true</c>; <see cref="HostConfigurationException.Problems"/> lists every problem.
    /// </exception>
    public static HostSettings From(IConfiguration configuration)
    {
        var problems = new List<string>();
        var settings = Read(configuration, problems);
        return problems.Count == 0 && settings is not null ? settings : throw new HostConfigurationException(problems);
    }

    /// <summary>Reads and checks the <c>Host</c> section, adding every problem to <paramref name="problems"/>.</summary>
    /// <returns>The settings, or null when there are problems.</returns>
    internal static HostSettings? Read(IConfiguration configuration, ICollection<string> problems)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(problems);
        var before = problems.Count;
        var section = configuration.GetSection(SectionName);
        // Shells and container images may export HOST (a host name): that is not this section, so it does not count.
        if (!ConfigurationShape.IsOnlyFromEnvironmentVariables(configuration, SectionName) &&
            ConfigurationShape.RejectValue(section, $"a section with the keys {string.Join(", ", KnownKeys)}", problems))
        {
            return null;
        }

        ConfigurationShape.RejectUnknownKeys(section, KnownKeys, problems);
        var text = ConfigurationShape.Value(section.GetSection("Url"), $"a URL such as {DefaultUrl}", problems) ?? DefaultUrl;
        var allowRemote = ConfigurationShape.Boolean(section.GetSection("AllowRemote"), false, problems);
        var createBrokers = ConfigurationShape.Boolean(section.GetSection("CreateInMemoryBrokers"), true, problems);

        var metrics = section.GetSection("Metrics");
        var meters = new List<string> { Federation.Core.Diagnostics.FederationTelemetry.SourceName };
        if (!ConfigurationShape.RejectValue(metrics, $"a section with the key Meters, such as {{ \"Meters\": {MetersExample} }}", problems))
        {
            ConfigurationShape.RejectUnknownKeys(metrics, ["Meters"], problems);
            meters.AddRange(ConfigurationShape.StringList(metrics.GetSection("Meters"), MetersExample, problems)
                .Where(m => !meters.Contains(m, StringComparer.Ordinal)));
        }

        var demo = section.GetSection("Demo");
        IReadOnlyList<string> demoExchanges = [];
        if (!ConfigurationShape.RejectValue(demo, $"a section with the key Exchanges, such as {{ \"Exchanges\": {ExchangesExample} }}", problems))
        {
            ConfigurationShape.RejectUnknownKeys(demo, ["Exchanges"], problems);
            demoExchanges = ConfigurationShape.StringList(demo.GetSection("Exchanges"), ExchangesExample, problems);
        }

        var listener = ReadUrl(text, allowRemote, problems);
        return problems.Count == before && listener is { } endpoint
            ? new HostSettings(endpoint.Url, endpoint.Address, endpoint.Url.Port, createBrokers, meters, demoExchanges)
            : null;
    }

    /// <summary>The port of an otherwise plain <c>http://host:port</c> URL when it is above 65535, or null.</summary>
    private static string? OutOfRangePort(string text)
    {
        var match = System.Text.RegularExpressions.Regex.Match(text, @"^http://[^/@?#]*:(?<port>[0-9]+)/?$", System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        return match.Success && (match.Groups["port"].Value.TrimStart('0').Length > 5 || int.Parse(match.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture) > 65535)
            ? match.Groups["port"].Value
            : null;
    }

    private static (Uri Url, IPAddress? Address)? ReadUrl(string text, bool allowRemote, ICollection<string> problems)
    {
        var shown = ConfigurationShape.Show(text);
        if (OutOfRangePort(text) is { } port)
        {
            // System.Uri refuses such a URL without saying why; the generic message below would blame https or a path.
            problems.Add($"Host:Url: '{shown}' has the port {port}, out of range: a port is 1 to 65535.");
            return null;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme != Uri.UriSchemeHttp || url.AbsolutePath != "/" ||
            url.Query.Length > 0 || url.Fragment.Length > 0 || url.UserInfo.Length > 0)
        {
            problems.Add($"Host:Url: '{shown}' is not a plain http URL such as {DefaultUrl} (https, paths, queries and credentials are not supported).");
            return null;
        }

        IPAddress? address = null;
        bool loopback;
        if (string.Equals(url.Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            loopback = true;
        }
        else if (IPAddress.TryParse(url.Host.Trim('[', ']'), out var parsed))
        {
            // An IPv4-mapped IPv6 address (::ffff:127.0.0.1) counts as loopback but cannot be bound as such: listen
            // on the IPv4 address it stands for, which is what the operator meant.
            address = parsed.IsIPv4MappedToIPv6 ? parsed.MapToIPv4() : parsed;
            loopback = IPAddress.IsLoopback(address);
        }
        else
        {
            problems.Add($"Host:Url: '{shown}' must name an IP address or localhost, not the host name '{url.Host}', so that the bound interface is explicit.");
            return null;
        }

        if (!loopback && !allowRemote)
        {
            problems.Add(
                $"Host:Url: '{shown}' is not a loopback address. The federation endpoints (status, restart, metrics) are unauthenticated, " +
                "so the host listens on loopback only; set Host:AllowRemote=true to listen on another interface deliberately.");
            return null;
        }

        return (url, address);
    }
}
