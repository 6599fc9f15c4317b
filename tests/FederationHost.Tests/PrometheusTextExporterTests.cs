using FederationHost.Metrics;

namespace FederationHost.Tests;

/// <summary>Naming, escaping and deterministic rendering of the Prometheus text format.</summary>
public sealed class PrometheusTextExporterTests
{
    private static InstrumentSnapshot Instrument(string name, MetricKind kind, params MetricPoint[] points) =>
        new("Test.Meter", name, "{message}", "help", kind, points);

    private static MetricPoint Point(double value, params (string Key, string Value)[] tags) =>
        new([.. tags.Select(t => new KeyValuePair<string, string>(t.Key, t.Value))], value);

    [Fact]
    public void Summaries_render_sum_and_count_without_quantiles()
    {
        var snapshot = new InstrumentSnapshot(
            "Test.Meter",
            "federation.broker.processing.duration",
            "s",
            "Time to process one message.",
            MetricKind.Summary,
            [new MetricPoint([new("direction", "request")], 0.75, 2)]);

        Assert.Equal(
            "# HELP federation_broker_processing_duration_seconds Time to process one message.\n" +
            "# TYPE federation_broker_processing_duration_seconds summary\n" +
            "federation_broker_processing_duration_seconds_sum{direction=\"request\"} 0.75\n" +
            "federation_broker_processing_duration_seconds_count{direction=\"request\"} 2\n",
            PrometheusTextExporter.Render([snapshot]));
    }

    [Theory]
    [InlineData("federation.link.messages.forwarded", "{message}", MetricKind.Counter, "federation_link_messages_forwarded_total")]
    [InlineData("federation.links", "{link}", MetricKind.Gauge, "federation_links")]
    [InlineData("http.server.request.duration", "s", MetricKind.Gauge, "http_server_request_duration_seconds")]
    [InlineData("queue.size", "By", MetricKind.Gauge, "queue_size_bytes")]
    [InlineData("jobs_total", null, MetricKind.Counter, "jobs_total")]
    [InlineData("9lives-per.cat", null, MetricKind.Counter, "_9lives_per_cat_total")]
    [InlineData("ns:metric", null, MetricKind.Gauge, "ns:metric")]
    public void Metric_names_follow_prometheus_conventions(string instrument, string? unit, MetricKind kind, string expected) =>
        Assert.Equal(expected, PrometheusNaming.MetricName(instrument, unit, kind));

    [Theory]
    [InlineData("federation.link.state", "federation_link_state")]
    [InlineData("a-b:c", "a_b_c")]
    [InlineData("1st", "_1st")]
    public void Label_names_are_sanitized(string tag, string expected) =>
        Assert.Equal(expected, PrometheusNaming.LabelName(tag));

    [Fact]
    public void Label_values_escape_backslash_quote_and_newline()
    {
        Assert.Equal("""a\\b\"c\nd""", PrometheusTextExporter.EscapeLabelValue("a\\b\"c\nd"));
        var text = PrometheusTextExporter.Render([Instrument("x", MetricKind.Gauge, Point(1, ("path", "C:\\dir \"q\"\nnext")))]);
        Assert.Contains("x{path=\"C:\\\\dir \\\"q\\\"\\nnext\"} 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_text_escapes_backslash_and_newline_only()
    {
        var text = PrometheusTextExporter.Render([new InstrumentSnapshot("m", "x", null, "line \"one\"\\\ntwo", MetricKind.Gauge, [])]);
        Assert.StartsWith("# HELP x line \"one\"\\\\\\ntwo\n# TYPE x gauge\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Output_is_sorted_and_independent_of_input_order()
    {
        var a = Instrument("b.counter", MetricKind.Counter, Point(2, ("z", "1"), ("a", "2")), Point(1, ("a", "1"), ("z", "9")));
        var b = Instrument("a.gauge", MetricKind.Gauge, Point(5));
        var reversed = Instrument("b.counter", MetricKind.Counter, Point(1, ("z", "9"), ("a", "1")), Point(2, ("a", "2"), ("z", "1")));

        var first = PrometheusTextExporter.Render([a, b]);
        var second = PrometheusTextExporter.Render([b, reversed]);

        Assert.Equal(first, second);
        Assert.Equal(
            "# HELP a_gauge help\n# TYPE a_gauge gauge\na_gauge 5\n" +
            "# HELP b_counter_total help\n# TYPE b_counter_total counter\n" +
            "b_counter_total{a=\"1\",z=\"9\"} 1\nb_counter_total{a=\"2\",z=\"1\"} 2\n",
            first);
    }

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    [InlineData(0.5, "0.5")]
    [InlineData(1234567, "1234567")]
    public void Values_use_invariant_formatting_and_prometheus_special_values(double value, string expected) =>
        Assert.Equal(expected, PrometheusTextExporter.FormatValue(value));
}
