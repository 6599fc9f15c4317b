using Microsoft.Extensions.Configuration;

namespace FederationHost.Configuration;

/// <summary>
/// The <c>Telemetry</c> section: where the host sends traces and metrics by OTLP, besides the Prometheus scrape at
/// <c>/metrics</c>. Off unless <c>Telemetry:Otlp:Endpoint</c> is set.
/// </summary>
/// <param name="OtlpEndpoint">The collector's URL (<c>Telemetry:Otlp:Endpoint</c>), or null: no OTLP export and no tracing.</param>
/// <param name="OtlpProtocol">The OTLP protocol (<c>Telemetry:Otlp:Protocol</c>): <c>grpc</c> (the default) or <c>http/protobuf</c>.</param>
public sealed record TelemetrySettings(Uri? OtlpEndpoint, string OtlpProtocol)
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Telemetry";

    /// <summary>OTLP over gRPC (the collector's port 4317).</summary>
    public const string Grpc = "grpc";

    /// <summary>OTLP over HTTP with protobuf bodies (the collector's port 4318, paths <c>/v1/traces</c> and <c>/v1/metrics</c>).</summary>
    public const string HttpProtobuf = "http/protobuf";

    private static readonly string[] SectionKeys = ["Otlp"];
    private static readonly string[] OtlpKeys = ["Endpoint", "Protocol"];

    /// <summary>Whether traces and metrics go to an OTLP collector.</summary>
    public bool OtlpEnabled => OtlpEndpoint is not null;

    /// <summary>Reads and checks the <c>Telemetry</c> section.</summary>
    /// <exception cref="HostConfigurationException">A key is unknown or a value is not a URL or protocol; every problem is listed.</exception>
    public static TelemetrySettings From(IConfiguration configuration)
    {
        var problems = new List<string>();
        var settings = Read(configuration, problems);
        return problems.Count == 0 && settings is not null ? settings : throw new HostConfigurationException(problems);
    }

    /// <summary>Reads and checks the <c>Telemetry</c> section, adding every problem to <paramref name="problems"/>.</summary>
    /// <returns>The settings, or null when there are problems.</returns>
    internal static TelemetrySettings? Read(IConfiguration configuration, ICollection<string> problems)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(problems);
        var before = problems.Count;
        var section = configuration.GetSection(SectionName);
        Uri? endpoint = null;
        var protocol = Grpc;
        if (!ConfigurationShape.RejectValue(section, "a section with the key Otlp", problems))
        {
            ConfigurationShape.RejectUnknownKeys(section, SectionKeys, problems);
            var otlp = section.GetSection("Otlp");
            if (!ConfigurationShape.RejectValue(otlp, $"a section with the keys {string.Join(", ", OtlpKeys)}", problems))
            {
                ConfigurationShape.RejectUnknownKeys(otlp, OtlpKeys, problems);
                endpoint = ReadEndpoint(otlp.GetSection("Endpoint"), problems);
                protocol = ReadProtocol(otlp.GetSection("Protocol"), problems);
            }
        }

        return problems.Count == before ? new TelemetrySettings(endpoint, protocol) : null;
    }

    private static Uri? ReadEndpoint(IConfigurationSection key, ICollection<string> problems)
    {
        const string Expected = "an absolute http or https URL of an OTLP collector, such as http://localhost:4317";
        var text = ConfigurationShape.Value(key, Expected, problems);
        if (text is null || string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        if (!Uri.TryCreate(text.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            problems.Add($"{key.Path}: '{ConfigurationShape.Show(text)}' is not {Expected}");
            return null;
        }

        if (uri.UserInfo.Length > 0)
        {
            // The OTLP exporter sends no user information from the URL: the credentials would go nowhere but into whatever
            // shows the endpoint. A collector that wants them takes them as headers.
            problems.Add($"{key.Path}: '{ConfigurationShape.Show(text)}' carries user information, which the OTLP exporter does not send; give the collector's credentials as headers (the environment variable OTEL_EXPORTER_OTLP_HEADERS, such as 'Authorization=Basic ...') and the URL without them");
            return null;
        }

        return uri;
    }

    private static string ReadProtocol(IConfigurationSection key, ICollection<string> problems)
    {
        var text = ConfigurationShape.Value(key, $"{Grpc} or {HttpProtobuf}", problems);
        if (text is null || string.IsNullOrWhiteSpace(text))
        {
            return Grpc;
        }

        if (string.Equals(text.Trim(), Grpc, StringComparison.OrdinalIgnoreCase) || string.Equals(text.Trim(), HttpProtobuf, StringComparison.OrdinalIgnoreCase))
        {
            return text.Trim().ToLowerInvariant();
        }

        problems.Add($"{key.Path}: '{ConfigurationShape.Show(text)}' is not an OTLP protocol; use {Grpc} or {HttpProtobuf}");
        return Grpc;
    }
}
