using System.Text;
using Federation.Core.Transport;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Federation.Core.Tests.Transport;

/// <summary>
/// AMQP carries a timestamp as any 64-bit count of seconds and a long string as any bytes; the model keeps both exactly,
/// also where <see cref="DateTimeOffset"/> and <see cref="string"/> cannot.
/// </summary>
public sealed class ExactHeaderValueTests
{
    [Property]
    public Property Every_64_bit_timestamp_survives_the_model(long seconds)
    {
        var properties = new MessageProperties { UnixTimestamp = seconds };
        var representable = UnrepresentableTimestamp.IsRepresentable(seconds);
        return (properties.UnixTimestamp == seconds
                && properties.Clone().UnixTimestamp == seconds
                && (properties.Timestamp is null) == !representable
                && (representable ? UnrepresentableTimestamp.FromUnixSeconds(seconds) is DateTimeOffset : UnrepresentableTimestamp.FromUnixSeconds(seconds).Equals(new UnrepresentableTimestamp(seconds))))
            .ToProperty();
    }

    [Fact]
    public void Milliseconds_where_seconds_belong_are_kept_and_a_date_replaces_them()
    {
        var milliseconds = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var properties = new MessageProperties { UnixTimestamp = milliseconds };
        Assert.Null(properties.Timestamp);
        Assert.Equal(milliseconds, properties.UnixTimestamp);

        properties.Timestamp = DateTimeOffset.UnixEpoch.AddSeconds(5);
        Assert.Equal(5, properties.UnixTimestamp);
        properties.Timestamp = null;
        Assert.Null(properties.UnixTimestamp);
    }

    [Fact]
    public void Text_that_is_not_utf8_keeps_its_bytes_and_valid_text_becomes_a_string()
    {
        byte[] invalid = [0x66, 0xC3, 0x28, 0xFF];
        var kept = Assert.IsType<NonUtf8String>(NonUtf8String.FromOwnedBytes(invalid));
        Assert.Equal(invalid, kept.Bytes.ToArray());
        Assert.Equal(new NonUtf8String(invalid), kept);
        Assert.Equal(new NonUtf8String(invalid).GetHashCode(), kept.GetHashCode());
        Assert.NotEqual(new NonUtf8String([0x66, 0xC3, 0x28, 0xFE]), kept);
        Assert.Equal("héllo", NonUtf8String.FromOwnedBytes(Encoding.UTF8.GetBytes("héllo")));
    }

    [Fact]
    public void Header_comparison_compares_exact_values()
    {
        var comparer = HeaderValueComparer.Instance;
        Assert.True(comparer.Equals(new NonUtf8String([0xFF]), new NonUtf8String([0xFF])));
        Assert.False(comparer.Equals(new NonUtf8String([0xFF]), new NonUtf8String([0xFE])));
        Assert.True(comparer.Equals(new UnrepresentableTimestamp(long.MaxValue), new UnrepresentableTimestamp(long.MaxValue)));
        Assert.False(comparer.Equals(new UnrepresentableTimestamp(long.MaxValue), new UnrepresentableTimestamp(long.MinValue)));
    }
}
