using System.Text;
using Federation.Core.Hops;
using Federation.Core.Links.Deduplication;
using Federation.Core.Transport;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Federation.Core.Tests.Links.Deduplication;

public sealed class DeliveryFingerprintTests
{
    private static MessageProperties Properties(Dictionary<string, object?>? headers = null) => new()
    {
        ContentType = "text/plain",
        Persistent = true,
        Timestamp = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero),
        Headers = headers,
    };

    private static UInt128 Of(string body, MessageProperties properties, string routingKey = "key") =>
        DeliveryFingerprint.Of(routingKey, properties, Encoding.UTF8.GetBytes(body));

    [Fact]
    public void The_message_id_alone_identifies_a_message()
    {
        var a = Properties();
        a.MessageId = "order-42";
        var b = Properties(new() { ["h"] = "other" });
        b.MessageId = "order-42";
        b.ContentType = "application/json";

        Assert.Equal(Of("one body", a), Of("another body", b, "other.key"));
        b.MessageId = "order-43";
        Assert.NotEqual(Of("one body", a), Of("one body", b));
    }

    [Fact]
    public void The_hop_trail_and_broker_added_headers_do_not_count()
    {
        var plain = Properties(new() { ["app"] = 1 });
        var hopped = Properties(new()
        {
            ["app"] = 1,
            [HopHeaders.ReceivedFrom] = new List<object?> { new Dictionary<string, object?> { ["uri"] = "amqp://u" } },
            ["x-death"] = new List<object?> { new Dictionary<string, object?> { ["count"] = 1L } },
            ["x-delivery-count"] = 3,
        });

        Assert.Equal(Of("body", plain), Of("body", hopped));
    }

    [Fact]
    public void Body_routing_key_properties_and_headers_each_count()
    {
        var reference = Of("body", Properties(new() { ["app"] = 1 }));
        Assert.NotEqual(reference, Of("body!", Properties(new() { ["app"] = 1 })));
        Assert.NotEqual(reference, Of("body", Properties(new() { ["app"] = 1 }), "key2"));
        Assert.NotEqual(reference, Of("body", Properties(new() { ["app"] = 2 })));
        Assert.NotEqual(reference, Of("body", Properties(new() { ["app"] = "1" })));
        Assert.NotEqual(reference, Of("body", Properties(new() { ["app"] = 1, ["more"] = null })));
        var changed = Properties(new() { ["app"] = 1 });
        changed.CorrelationId = "c";
        Assert.NotEqual(reference, Of("body", changed));
    }

    [Fact]
    public void Timestamps_and_text_count_by_their_exact_values()
    {
        static MessageProperties At(long? seconds) => new() { UnixTimestamp = seconds };

        // Out of DateTimeOffset's range (these threw before), and told apart from "no timestamp" and from each other.
        long?[] timestamps = [null, long.MinValue, long.MinValue + 1, long.MinValue + 2, -62_135_596_801, 0, 1, 253_402_300_800, long.MaxValue];
        var identities = timestamps.Select(t => Of("body", At(t))).ToArray();
        Assert.Equal(timestamps.Length, identities.Distinct().Count());

        // An in-range timestamp identifies a message as it always did, however it was set.
        var date = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(Of("body", new MessageProperties { Timestamp = date }), Of("body", At(date.ToUnixTimeSeconds())));

        var text = Of("body", Properties(new() { ["h"] = new NonUtf8String([0x66, 0xFF]) }));
        Assert.Equal(text, Of("body", Properties(new() { ["h"] = new NonUtf8String([0x66, 0xFF]) })));
        Assert.NotEqual(text, Of("body", Properties(new() { ["h"] = new NonUtf8String([0x66, 0xFE]) })));
        Assert.NotEqual(text, Of("body", Properties(new() { ["h"] = "f\uFFFD" })));
        Assert.NotEqual(text, Of("body", Properties(new() { ["h"] = new byte[] { 0x66, 0xFF } })));
        Assert.Equal(
            Of("body", Properties(new() { ["h"] = DateTimeOffset.UnixEpoch })),
            Of("body", Properties(new() { ["h"] = UnrepresentableTimestamp.FromUnixSeconds(0) })));
        Assert.NotEqual(
            Of("body", Properties(new() { ["h"] = new UnrepresentableTimestamp(long.MaxValue) })),
            Of("body", Properties(new() { ["h"] = new UnrepresentableTimestamp(long.MinValue) })));
    }

    [Property]
    public Property Header_order_does_not_count(NonEmptyString[] names)
    {
        var distinct = names.Select(n => n.Get).Distinct(StringComparer.Ordinal).ToArray();
        var forward = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var name in distinct)
        {
            forward[name] = name.Length;
        }

        var backward = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var name in distinct.Reverse())
        {
            backward[name] = name.Length;
        }

        return (Of("b", Properties(forward)) == Of("b", Properties(backward))).ToProperty();
    }

    [Property]
    public Property Different_bodies_have_different_identities(byte[] a, byte[] b) =>
        (a.AsSpan().SequenceEqual(b) == (DeliveryFingerprint.Of("k", Properties(), a) == DeliveryFingerprint.Of("k", Properties(), b))).ToProperty();

    [Property]
    public Property Moving_bytes_between_two_text_fields_changes_the_identity(NonEmptyString text, PositiveInt cut)
    {
        var s = text.Get;
        var at = cut.Get % s.Length;
        var a = Properties();
        a.ContentType = s[..at];
        a.ContentEncoding = s[at..];
        var b = Properties();
        b.ContentType = s;
        b.ContentEncoding = "";
        return (at == s.Length || Of("x", a) != Of("x", b)).ToProperty();
    }
}
