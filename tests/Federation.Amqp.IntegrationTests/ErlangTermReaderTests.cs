using Federation.Core.Transport;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// Parsing the printed argument terms of rabbitmq_event_exchange events. The samples are what RabbitMQ 3.10.8 sent for
/// real declarations (see the live topology tests for the end-to-end check).
/// </summary>
public sealed class ErlangTermReaderTests
{
    [Fact]
    public void LongStrings_LongsAndNestedArraysOfTables_AreTyped()
    {
        var arguments = ErlangTermReader.ReadArguments(
        [
            "{<<\"alternate-exchange\">>,longstr,<<\"nowhere\">>}",
            "{<<\"x-bound-from\">>,array,[{table,[{<<\"cluster-name\">>,longstr,<<\"c1\">>},{<<\"hops\">>,short,1},{<<\"redelivered\">>,bool,false}]}]}",
            "{<<\"x-empty\">>,array,[]}",
        ])!;

        Assert.Equal("nowhere", arguments["alternate-exchange"]);
        var entry = Assert.IsType<Dictionary<string, object?>>(Assert.Single(Assert.IsType<List<object?>>(arguments["x-bound-from"])));
        Assert.Equal(("c1", 1L, false), (entry["cluster-name"], entry["hops"], entry["redelivered"]));
        Assert.Empty(Assert.IsType<List<object?>>(arguments["x-empty"]));
    }

    [Fact]
    public void Utf8Binaries_ByteListBinaries_SplitStringsAndWhitespace_AreRead()
    {
        var arguments = ErlangTermReader.ReadArguments(
        [
            "{<<\"text\">>,longstr,<<\"ü\"/utf8>>}",
            "{<<\"bytes\">>,binary,<<0,1,254>>}",
            "{<<\"split\">>,\n  longstr,\n  <<\"ab\"\n    \"cd\">>}",
            "{<<\"ratio\">>,double,2.25}",
            "{<<\"neg\">>,signedint,-7}",
            "{<<\"nothing\">>,void,undefined}",
        ])!;

        Assert.Equal("ü", arguments["text"]);
        Assert.Equal(new byte[] { 0, 1, 254 }, arguments["bytes"]);
        Assert.Equal("abcd", arguments["split"]);
        Assert.Equal(2.25, arguments["ratio"]);
        Assert.Equal(-7L, arguments["neg"]);
        Assert.Null(arguments["nothing"]);
    }

    [Fact]
    public void NoEntries_MeanNoArguments() => Assert.Null(ErlangTermReader.ReadArguments(null));

    [Fact]
    public void Garbage_IsAFormatException() => Assert.Throws<FormatException>(() => ErlangTermReader.ReadArguments(["{not a field"]));

    /// <summary>
    /// Anyone may bind with such arguments downstream. A decimal of scale 200 threw an OverflowException, and a timestamp
    /// past the year 9999 an ArgumentOutOfRangeException, where the topology listener skips only a FormatException.
    /// </summary>
    [Fact]
    public void ValuesNoDotNetTypeHolds_AreAFormatException_AndFarTimestampsAndNonUtf8TextAreKept()
    {
        Assert.Throws<FormatException>(() => ErlangTermReader.ReadArguments(["{<<\"d\">>,decimal,{200,1}}"]));
        Assert.Throws<FormatException>(() => ErlangTermReader.ReadArguments(["{<<\"b\">>,binary,<<300>>}"]));
        Assert.Throws<FormatException>(() => ErlangTermReader.ReadArguments(["{<<\"t\">>,table,[{<<\"k\">>,bool,true},{<<\"k\">>,bool,false}]}"]));

        var arguments = ErlangTermReader.ReadArguments(
        [
            "{<<\"d\">>,decimal,{2,150}}",
            "{<<\"ms\">>,timestamp,1700000000000}",
            "{<<\"top\">>,timestamp,9223372036854775808}",
            "{<<\"text\">>,longstr,<<102,195,40>>}",
        ])!;

        Assert.Equal(1.50m, arguments["d"]);
        Assert.Equal(new UnrepresentableTimestamp(1_700_000_000_000), arguments["ms"]);
        Assert.Equal(new UnrepresentableTimestamp(long.MinValue), arguments["top"]);
        Assert.Equal(new NonUtf8String([102, 195, 40]), arguments["text"]);
    }
}
