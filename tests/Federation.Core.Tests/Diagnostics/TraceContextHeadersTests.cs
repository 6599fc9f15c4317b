using System.Diagnostics;
using System.Text;
using Federation.Core.Diagnostics;

namespace Federation.Core.Tests.Diagnostics;

/// <summary>The W3C trace context in a message's header table.</summary>
public sealed class TraceContextHeadersTests
{
    private const string TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    [Fact]
    public void A_text_or_utf8_traceparent_and_its_tracestate_are_read()
    {
        var fromText = TraceContextHeaders.Extract(new() { ["traceparent"] = TraceParent, ["tracestate"] = "vendor=1" });
        var fromBytes = TraceContextHeaders.Extract(new() { ["traceparent"] = Encoding.UTF8.GetBytes(TraceParent) });

        Assert.Equal("0af7651916cd43dd8448eb211c80319c", fromText.TraceId.ToHexString());
        Assert.Equal("b7ad6b7169203331", fromText.SpanId.ToHexString());
        Assert.Equal("vendor=1", fromText.TraceState);
        Assert.True(fromText.IsRemote);
        Assert.Equal(fromText.TraceId, fromBytes.TraceId);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not-a-traceparent")]
    [InlineData(42)]
    public void No_or_a_malformed_traceparent_reads_as_no_context(object? value)
    {
        Assert.Equal(default, TraceContextHeaders.Extract(null));
        Assert.Equal(default, TraceContextHeaders.Extract(new() { ["traceparent"] = value }));
    }

    [Fact]
    public void Injecting_replaces_the_pair_and_drops_a_stale_tracestate()
    {
        using var activity = new Activity("forward").SetIdFormat(ActivityIdFormat.W3C).Start();
        var headers = new Dictionary<string, object?> { ["traceparent"] = TraceParent, ["tracestate"] = "stale=1", ["baggage"] = "k=v" };

        TraceContextHeaders.Inject(activity, headers);

        Assert.Equal(activity.Id, headers["traceparent"]);
        Assert.False(headers.ContainsKey("tracestate"));
        Assert.Equal("k=v", headers["baggage"]);
    }
}
