using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Federation.Core.Diagnostics;
using FederationHost.Configuration;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace FederationHost.Telemetry;

/// <summary>
/// The host's OpenTelemetry SDK: the configured meters, scraped in the Prometheus format at <c>/metrics</c>, and, when
/// <c>Telemetry:Otlp:Endpoint</c> is set, traces (the libraries' forward spans) and metrics pushed to an OTLP collector.
/// Without an OTLP endpoint no tracer provider exists, so nothing listens to the activity source and forwards start no span.
/// </summary>
internal static class HostTelemetry
{
    /// <summary>The service name on every exported resource.</summary>
    public const string ServiceName = "FederationHost";

    /// <summary>The path of the Prometheus scrape endpoint.</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>
    /// Bucket boundaries, in seconds, of every histogram measured in seconds (unit <c>s</c>): from half a millisecond, the
    /// cost of a forward on one machine, to ten seconds, a publish waiting out a slow confirm or a reconnect.
    /// </summary>
    public static readonly double[] SecondsBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Registers the SDK with the meters of <paramref name="host"/> and the exporters of <paramref name="telemetry"/>.</summary>
    public static void AddHostTelemetry(this IServiceCollection services, HostSettings host, TelemetrySettings telemetry)
    {
        var openTelemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(ServiceName, serviceVersion: typeof(HostTelemetry).Assembly.GetName().Version?.ToString()));

        openTelemetry.WithMetrics(metrics =>
        {
            metrics.AddMeter([.. host.MeterNames]);
            metrics.AddView(instrument => IsSecondsHistogram(instrument) ? new ExplicitBucketHistogramConfiguration { Boundaries = SecondsBuckets } : null);

            // A scrape reads the instruments now, as the hand-written exporter did: no cached response between scrapes.
            metrics.AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0);
            if (telemetry.OtlpEnabled)
            {
                metrics.AddOtlpExporter(otlp => ConfigureOtlp(otlp, telemetry, "v1/metrics"));
            }
        });

        if (telemetry.OtlpEnabled)
        {
            openTelemetry.WithTracing(tracing => tracing
                .AddSource(FederationTelemetry.SourceName)
                .AddOtlpExporter(otlp => ConfigureOtlp(otlp, telemetry, "v1/traces")));
        }
    }

    private static bool IsSecondsHistogram(Instrument instrument) =>
        instrument.GetType() is { IsGenericType: true } type && type.GetGenericTypeDefinition() == typeof(Histogram<>) && instrument.Unit == "s";

    /// <summary>
    /// Points the exporter at the collector. Over gRPC the endpoint is the collector's address; over HTTP an endpoint set
    /// in code is used as it is, so the signal's path is added here as the OTLP specification names it.
    /// </summary>
    private static void ConfigureOtlp(OtlpExporterOptions otlp, TelemetrySettings telemetry, string signalPath)
    {
        var endpoint = telemetry.OtlpEndpoint!;
        if (telemetry.OtlpProtocol == TelemetrySettings.HttpProtobuf)
        {
            otlp.Protocol = OtlpExportProtocol.HttpProtobuf;
            var root = endpoint.AbsoluteUri.EndsWith('/') ? endpoint : new Uri(endpoint.AbsoluteUri + "/");
            otlp.Endpoint = new Uri(root, signalPath);
        }
        else
        {
            otlp.Protocol = OtlpExportProtocol.Grpc;
            otlp.Endpoint = endpoint;
        }
    }
}
