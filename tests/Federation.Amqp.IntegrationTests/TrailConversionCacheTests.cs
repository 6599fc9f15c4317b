using System.Collections;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// The publisher's cache of converted <c>x-received-from</c> trails: an equal trail is sent as the converted value sent
/// before, anything that would go on the wire differently is converted afresh (no broker needed).
/// </summary>
public sealed class TrailConversionCacheTests
{
    [Fact]
    public void An_equal_trail_reuses_the_conversion_and_writes_what_a_fresh_one_would()
    {
        var cache = new TrailConversionCache();
        var first = cache.Convert(Trail("up"));
        var again = cache.Convert(Trail("up"));

        Assert.Same(first, again);
        AssertSameShape(AmqpHeaders.ToAmqpValue(Trail("up")), again);
    }

    [Fact]
    public void The_conversion_is_a_copy_so_the_caller_may_change_its_trail_afterwards()
    {
        var cache = new TrailConversionCache();
        var trail = Trail("up");
        var converted = cache.Convert(trail);

        ((Dictionary<string, object?>)trail[0]!)["vhost"] = "changed";
        trail.Add("appended");

        AssertSameShape(AmqpHeaders.ToAmqpValue(Trail("up")), converted);
        var afterChange = cache.Convert(trail);
        Assert.NotSame(converted, afterChange);
        AssertSameShape(AmqpHeaders.ToAmqpValue(trail), afterChange);
    }

    public static TheoryData<string> Differences => new()
    {
        "value", "key order", "value type", "length", "extra field",
    };

    [Theory]
    [MemberData(nameof(Differences))]
    public void A_trail_that_differs_in_anything_on_the_wire_is_converted_afresh(string difference)
    {
        var cache = new TrailConversionCache();
        var cached = cache.Convert(Trail("up"));
        var other = Trail("up");
        var entry = (Dictionary<string, object?>)other[0]!;
        switch (difference)
        {
            case "value":
                entry["vhost"] = "down";
                break;
            case "key order":
                other[0] = new Dictionary<string, object?>(StringComparer.Ordinal)
                {
                    ["exchange"] = "x",
                    ["uri"] = "amqp://upstream",
                    ["redelivered"] = false,
                    ["cluster-name"] = "rabbit@upstream",
                    ["vhost"] = "up",
                };
                break;
            case "value type":
                entry["redelivered"] = 0;
                break;
            case "length":
                other.Add(Entry("older"));
                break;
            case "extra field":
                entry["hops"] = (short)1;
                break;
        }

        var converted = cache.Convert(other);

        Assert.NotSame(cached, converted);
        AssertSameShape(AmqpHeaders.ToAmqpValue(other), converted);
    }

    [Fact]
    public void Values_that_compare_equal_with_a_different_encoding_are_never_shared()
    {
        var cache = new TrailConversionCache();
        var withDecimal = new List<object?> { new Dictionary<string, object?>(StringComparer.Ordinal) { ["n"] = 1.0m } };
        var first = cache.Convert(withDecimal);
        var second = cache.Convert(new List<object?> { new Dictionary<string, object?>(StringComparer.Ordinal) { ["n"] = 1.00m } });

        Assert.NotSame(first, second);
        Assert.Equal("1.00", ((decimal)((IDictionary<string, object?>)((IList)second!)[0]!)["n"]!).ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void A_trail_that_is_not_an_array_converts_as_any_header_value()
    {
        var cache = new TrailConversionCache();
        Assert.Equal("text", cache.Convert("text"));
        Assert.IsType<BinaryTableValue>(cache.Convert(new byte[] { 1 }));
        Assert.Null(cache.Convert(null));
    }

    [Fact]
    public void Several_paths_stay_cached_together()
    {
        var cache = new TrailConversionCache();
        var fromA = cache.Convert(Trail("a"));
        var fromB = cache.Convert(Trail("b"));

        Assert.Same(fromA, cache.Convert(Trail("a")));
        Assert.Same(fromB, cache.Convert(Trail("b")));
    }

    [Fact]
    public void The_publisher_writes_a_cached_trail_into_its_header_table()
    {
        var cache = new TrailConversionCache();
        var target = new Dictionary<string, object?>(StringComparer.Ordinal);
        var headers = new Dictionary<string, object?>(StringComparer.Ordinal) { ["x-received-from"] = Trail("up"), ["other"] = new List<object?> { "x" } };

        AmqpHeaders.CopyToAmqp(headers, target, cache);
        var trail = target["x-received-from"];
        target.Clear();
        AmqpHeaders.CopyToAmqp(headers, target, cache);

        Assert.Same(trail, target["x-received-from"]);
        Assert.NotSame(headers["other"], target["other"]);
    }

    private static List<object?> Trail(string vhost) => [Entry(vhost)];

    // Field order and types as HopRules writes them.
    private static Dictionary<string, object?> Entry(string vhost) => new(StringComparer.Ordinal)
    {
        ["uri"] = "amqp://upstream",
        ["exchange"] = "x",
        ["redelivered"] = false,
        ["cluster-name"] = "rabbit@upstream",
        ["vhost"] = vhost,
    };

    // Same structure, key order, value types and values.
    private static void AssertSameShape(object? expected, object? actual)
    {
        switch (expected)
        {
            case IDictionary<string, object?> table:
                var other = Assert.IsAssignableFrom<IDictionary<string, object?>>(actual);
                Assert.Equal(table.Keys, other.Keys);
                foreach (var (key, value) in table)
                {
                    AssertSameShape(value, other[key]);
                }

                break;
            case IList list:
                var otherList = Assert.IsAssignableFrom<IList>(actual);
                Assert.Equal(list.Count, otherList.Count);
                for (var i = 0; i < list.Count; i++)
                {
                    AssertSameShape(list[i], otherList[i]);
                }

                break;
            default:
                Assert.Equal(expected?.GetType(), actual?.GetType());
                Assert.Equal(expected, actual);
                break;
        }
    }
}
