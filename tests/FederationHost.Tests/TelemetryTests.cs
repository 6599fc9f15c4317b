using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Federation.Core.Transport;
using Federation.Testing.Brokers;
using FederationHost.Configuration;
using Microsoft.Extensions.Configuration;

namespace FederationHost.Tests;

/// <summary>The <c>Telemetry</c> section: OTLP is off unless an endpoint is given, and then traces reach the collector.</summary>
public sealed class TelemetryTests
{
    private static TelemetrySettings Read(params (string Key, string Value)[] values) =>
        TelemetrySettings.From(new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build());

    [Fact]
    public void Otlp_is_off_by_default()
    {
        var settings = Read();
        Assert.False(settings.OtlpEnabled);
        Assert.Equal(TelemetrySettings.Grpc, settings.OtlpProtocol);
    }

    [Theory]
    [InlineData("http://localhost:4317", null, "grpc")]
    [InlineData("https://collector.example:4318/", "HTTP/Protobuf", "http/protobuf")]
    public void An_endpoint_switches_otlp_on(string endpoint, string? protocol, string expectedProtocol)
    {
        var settings = protocol is null
            ? Read(("Telemetry:Otlp:Endpoint", endpoint))
            : Read(("Telemetry:Otlp:Endpoint", endpoint), ("Telemetry:Otlp:Protocol", protocol));
        Assert.True(settings.OtlpEnabled);
        Assert.Equal(new Uri(endpoint), settings.OtlpEndpoint);
        Assert.Equal(expectedProtocol, settings.OtlpProtocol);
    }

    [Theory]
    [InlineData("localhost:4317")]
    [InlineData("ftp://collector:21")]
    [InlineData("not a url")]
    public void An_endpoint_that_is_not_an_http_url_is_refused_naming_key_and_value(string endpoint)
    {
        var error = Assert.Throws<HostConfigurationException>(() => Read(("Telemetry:Otlp:Endpoint", endpoint)));
        Assert.Contains("Telemetry:Otlp:Endpoint", error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{endpoint}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_refused_endpoint_never_shows_its_credentials()
    {
        var error = Assert.Throws<HostConfigurationException>(() => Read(("Telemetry:Otlp:Endpoint", "ftp://otel:t0ps3cret@collector:21")));
        Assert.Contains("Telemetry:Otlp:Endpoint", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("t0ps3cret", error.Message, StringComparison.Ordinal);
    }

    /// <summary>The exporter sends no user information from the URL: the credentials would only have been shown, never used.</summary>
    [Theory]
    [InlineData("http://otel:t0ps3cret@collector:4317")]
    [InlineData("https://t0ps3cret@collector:4318")]
    public void An_endpoint_with_credentials_is_refused_without_showing_them(string endpoint)
    {
        var error = Assert.Throws<HostConfigurationException>(() => Read(("Telemetry:Otlp:Endpoint", endpoint)));
        Assert.Contains("Telemetry:Otlp:Endpoint", error.Message, StringComparison.Ordinal);
        Assert.Contains("OTEL_EXPORTER_OTLP_HEADERS", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("t0ps3cret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var error = Assert.Throws<HostConfigurationException>(() => Read(
            ("Telemetry:Otlp:Endpiont", "http://localhost:4317"),
            ("Telemetry:Otlp:Protocol", "thrift"),
            ("Telemetry:Zipkin", "x")));
        Assert.Contains("Telemetry:Otlp:Endpiont is not a recognised key; known keys: Endpoint, Protocol", error.Message, StringComparison.Ordinal);
        Assert.Contains("Telemetry:Otlp:Protocol: 'thrift' is not an OTLP protocol; use grpc or http/protobuf", error.Message, StringComparison.Ordinal);
        Assert.Contains("Telemetry:Zipkin is not a recognised key; known keys: Otlp", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_application_refuses_to_build_with_a_bad_telemetry_key()
    {
        var error = Assert.Throws<HostConfigurationException>(() => FederationHostApp.Build([], c =>
        {
            c.Sources.Clear();
            c.AddInMemoryCollection([new("Telemetry:Otlp:Endpoint", "collector:4317"), new("Federation:Downstream:uri", "memory://x/%2f")]);
        }));
        Assert.Contains("Telemetry:Otlp:Endpoint: 'collector:4317'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_an_otlp_endpoint_the_forward_spans_reach_the_collector()
    {
        // A stand-in collector: OTLP over HTTP is a POST of a protobuf body to /v1/traces (and /v1/metrics).
        var port = FreePorts.Next();
        using var collector = new HttpListener();
        collector.Prefixes.Add($"http://127.0.0.1:{port}/");
        collector.Start();
        var received = new ConcurrentQueue<(string Path, byte[] Body)>();
        _ = Task.Run(async () =>
        {
            while (collector.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await collector.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                using var body = new MemoryStream();
                await context.Request.InputStream.CopyToAsync(body);
                received.Enqueue((context.Request.Url!.AbsolutePath, body.ToArray()));
                context.Response.StatusCode = 200;
                context.Response.Close();
            }
        });

        var settings = RunningHost.DefaultSettings("otlp");
        settings["Telemetry:Otlp:Endpoint"] = $"http://127.0.0.1:{port}";
        settings["Telemetry:Otlp:Protocol"] = "http/protobuf";
        await using var host = await RunningHost.StartAsync(settings);
        await using var local = await host.DeclareExchangeAsync("otlp-local", "federated.orders");
        await local.DeclareQueueAsync(new QueueSpec("desk"), CancellationToken.None);
        await local.BindAsync(new BindingSpec("federated.orders", "desk", BindingDestinationKind.Queue, "order.#"), noWait: false, CancellationToken.None);
        var remote = host.Brokers.GetOrAdd("otlp-remote");
        await Eventually.UntilAsync(() => Task.FromResult(remote.GetBindings("/", "federated.orders").Count), c => c >= 1, "the binding propagated upstream");

        await using var upstream = await remote.ConnectAsync();
        await using var publisher = await upstream.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
        await publisher.PublishAsync("federated.orders", "order.created", new MessageProperties { MessageId = "otlp-1" }, Encoding.UTF8.GetBytes("one"), CancellationToken.None);

        // The batch processor exports within its delay (5 s); the span names and attributes are plain strings in the protobuf body.
        var traces = await Eventually.UntilAsync(
            () => Task.FromResult(received.Where(r => r.Path == "/v1/traces").Select(r => Encoding.UTF8.GetString(r.Body)).ToList()),
            bodies => bodies.Any(b => b.Contains("process federated.orders", StringComparison.Ordinal)),
            "the forward spans exported to /v1/traces");
        var exported = traces.First(b => b.Contains("process federated.orders", StringComparison.Ordinal));
        Assert.Contains("publish federated.orders", string.Concat(traces), StringComparison.Ordinal);
        Assert.Contains("messaging.operation.type", exported, StringComparison.Ordinal);
        Assert.Contains("FederationHost", exported, StringComparison.Ordinal);
        Assert.DoesNotContain(RunningHost.Secret, string.Concat(traces), StringComparison.Ordinal);
    }
}
