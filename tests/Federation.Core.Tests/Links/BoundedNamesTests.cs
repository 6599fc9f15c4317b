using System.Text;
using Federation.Core.Links;

namespace Federation.Core.Tests.Links;

/// <summary>The names a link makes up for its own objects stay within AMQP's 255 bytes, stable and distinct.</summary>
public sealed class BoundedNamesTests
{
    private const int MaxBytes = 255;

    [Fact]
    public void Names_that_fit_are_the_plugin_style_names_unchanged()
    {
        var queue = "federation: x -> D";
        Assert.Equal("federation: x -> D A", UpstreamNaming.InternalExchangeName(queue, 'A'));
        Assert.Equal("federation: x -> D sentinel", UpstreamNaming.SentinelExchangeName(queue));
        Assert.Equal("federation: x <- up ledger 0123abcd", UpstreamNaming.LedgerName("x", "up", "0123abcd"));
    }

    [Theory]
    [InlineData(MaxBytes)] // the queue name itself fits exactly; nothing appended to it does
    [InlineData(MaxBytes - 1)] // " A" does not fit, though the queue name has room for one more byte
    [InlineData(400)] // over the limit itself: our names still fit
    public void Names_derived_from_a_long_queue_name_fit_and_stay_stable_and_distinct(int queueBytes)
    {
        var queue = QueueNameOfBytes(queueBytes, 'é');
        string[] names =
        [
            UpstreamNaming.InternalExchangeName(queue, 'A'),
            UpstreamNaming.InternalExchangeName(queue, 'B'),
            UpstreamNaming.SentinelExchangeName(queue),
        ];

        Assert.All(names, name => Assert.InRange(Encoding.UTF8.GetByteCount(name), 1, MaxBytes));
        Assert.Equal(names.Length, names.Distinct(StringComparer.Ordinal).Count());
        Assert.EndsWith(" A", names[0], StringComparison.Ordinal);
        Assert.EndsWith(" B", names[1], StringComparison.Ordinal);
        Assert.EndsWith(" sentinel", names[2], StringComparison.Ordinal);
        Assert.All(names, name => Assert.StartsWith("federation: fed.", name, StringComparison.Ordinal));

        // Every engine and every restart computes the same names.
        Assert.Equal(names[0], UpstreamNaming.InternalExchangeName(queue, 'A'));
        Assert.Equal(names[2], UpstreamNaming.SentinelExchangeName(queue));
    }

    [Fact]
    public void Long_queue_names_that_differ_only_after_the_cut_get_different_names()
    {
        var stem = QueueNameOfBytes(300, 'x');
        Assert.NotEqual(UpstreamNaming.SentinelExchangeName(stem + "1"), UpstreamNaming.SentinelExchangeName(stem + "2"));
        Assert.NotEqual(UpstreamNaming.InternalExchangeName(stem + "1", 'A'), UpstreamNaming.InternalExchangeName(stem + "2", 'A'));
    }

    [Theory]
    [InlineData('é')] // two bytes
    [InlineData('€')] // three bytes
    public void A_cut_never_splits_a_character(char filler)
    {
        var name = UpstreamNaming.SentinelExchangeName(QueueNameOfBytes(300, filler));

        // Round-tripping through UTF-8 would turn a split character into U+FFFD.
        Assert.Equal(name, Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(name)));
        Assert.DoesNotContain('\uFFFD', name);
    }

    [Fact]
    public void A_cut_never_splits_a_surrogate_pair()
    {
        var queue = "federation: fed." + string.Concat(Enumerable.Repeat("😀", 80)) + " -> D"; // four bytes each
        foreach (var name in new[] { UpstreamNaming.SentinelExchangeName(queue), UpstreamNaming.InternalExchangeName(queue, 'A') })
        {
            Assert.InRange(Encoding.UTF8.GetByteCount(name), 1, MaxBytes);
            Assert.Equal(name, Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(name)));
        }
    }

    [Fact]
    public void A_ledger_name_that_would_not_fit_keeps_the_link_id_and_fits()
    {
        var exchange = "fed." + new string('é', 120);
        var name = UpstreamNaming.LedgerName(exchange, "up", "0123abcd");

        Assert.InRange(Encoding.UTF8.GetByteCount(name), 1, MaxBytes);
        Assert.EndsWith(" ledger 0123abcd", name, StringComparison.Ordinal);
        Assert.NotEqual(name, UpstreamNaming.LedgerName(exchange, "up2", "0123abcd"));
        Assert.Equal(name, UpstreamNaming.LedgerName(exchange, "up", "0123abcd"));
    }

    /// <summary>A plugin-style queue name of exactly <paramref name="bytes"/> bytes, padded with <paramref name="filler"/> (and ASCII for the rest).</summary>
    private static string QueueNameOfBytes(int bytes, char filler)
    {
        var name = new StringBuilder("federation: fed.");
        var fillerBytes = Encoding.UTF8.GetByteCount(filler.ToString());
        while (Encoding.UTF8.GetByteCount(name.ToString()) + fillerBytes + " -> D".Length <= bytes)
        {
            name.Append(filler);
        }

        while (Encoding.UTF8.GetByteCount(name.ToString()) + " -> D".Length < bytes)
        {
            name.Append('x');
        }

        name.Append(" -> D");
        Assert.Equal(bytes, Encoding.UTF8.GetByteCount(name.ToString()));
        return name.ToString();
    }
}
