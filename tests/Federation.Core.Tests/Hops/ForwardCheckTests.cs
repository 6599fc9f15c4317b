using System.Collections.ObjectModel;
using System.Text;
using Federation.Core.Hops;
using static Federation.Core.Tests.Hops.Trails;
using Xunit;

namespace Federation.Core.Tests.Hops;

public class ForwardCheckTests
{
    [Fact]
    public void Message_without_headers_is_forwarded_with_the_default_max_hops_of_1()
    {
        Assert.Equal(ForwardVerdict.Forward, HopRules.Check(null, 1, "b", "/"));
        Assert.Equal(ForwardVerdict.Forward, HopRules.Check(Table(("other", "value")), 1, "b", "/"));
    }

    [Fact]
    public void Message_that_crossed_one_link_needs_max_hops_of_2_to_cross_another()
    {
        var headers = MessageThatLeft(Hop("a")).Headers;

        Assert.Equal(ForwardVerdict.MaxHopsExceeded, HopRules.Check(headers, 1, "c", "/"));
        Assert.Equal(ForwardVerdict.Forward, HopRules.Check(headers, 2, "c", "/"));
    }

    [Fact]
    public void Message_never_reenters_a_cluster_and_vhost_it_has_left()
    {
        var headers = MessageThatLeft(Hop("a"), Hop("b")).Headers;

        Assert.Equal(ForwardVerdict.Cycle, HopRules.Check(headers, 5, "a", "/"));
        Assert.Equal(ForwardVerdict.Cycle, HopRules.Check(headers, 5, "b", "/"));
    }

    [Theory]
    [InlineData("a", "other-vhost")] // same cluster, another vhost: the 3.8.10 fix (rabbitmq-federation#113)
    [InlineData("other-cluster", "/")]
    public void Cycle_needs_both_cluster_name_and_vhost_to_match(string downstreamCluster, string downstreamVhost)
    {
        var headers = MessageThatLeft(Hop("a", "/")).Headers;

        Assert.Equal(ForwardVerdict.Forward, HopRules.Check(headers, 5, downstreamCluster, downstreamVhost));
    }

    [Fact]
    public void A_downstream_known_by_two_names_is_a_cycle_under_either()
    {
        var headers = MessageThatLeft(Hop("rabbit@node-a", "/")).Headers;

        Assert.Equal(ForwardVerdict.Forward, HopRules.Check(headers, 5, "east", "/"));
        Assert.Equal(ForwardVerdict.Cycle, HopRules.Check(headers, 5, "east", "/", downstreamAlias: "rabbit@node-a"));
        Assert.Equal(ForwardVerdict.Forward, HopRules.Check(headers, 5, "east", "other-vhost", downstreamAlias: "rabbit@node-a"));
        Assert.Equal(ForwardVerdict.Forward, HopRules.Check(headers, 5, "east", "/", downstreamAlias: null));
    }

    [Fact]
    public void Max_hops_is_reported_before_a_cycle()
    {
        var headers = MessageThatLeft(Hop("a")).Headers;

        Assert.Equal(ForwardVerdict.MaxHopsExceeded, HopRules.Check(headers, 1, "a", "/"));
    }

    [Theory]
    [InlineData("not an array")]
    [InlineData(42)]
    [InlineData(null)]
    public void Non_array_header_counts_as_no_trail(object? malformed)
    {
        Assert.Equal(ForwardVerdict.Forward, HopRules.Check(Headers(malformed), 1, "a", "/"));
    }

    [Fact]
    public void Every_array_element_counts_toward_the_length_but_only_tables_can_match()
    {
        var headers = Headers(new List<object?> { "junk", 7, null });

        Assert.Equal(ForwardVerdict.MaxHopsExceeded, HopRules.Check(headers, 3, "a", "/"));
        Assert.Equal(ForwardVerdict.Forward, HopRules.Check(headers, 4, "a", "/"));
    }

    [Fact]
    public void Entry_without_cluster_name_never_matches()
    {
        var headers = MessageThatLeft(new ReceivedFromEntry("amqp://a", "x", false, null, "/")).Headers;

        Assert.Equal(ForwardVerdict.Forward, HopRules.Check(headers, 5, "a", "/"));
    }

    [Fact]
    public void Trail_from_another_adapter_is_read_with_other_collection_types_and_utf8_text()
    {
        var entry = new ReadOnlyDictionary<string, object?>(new Dictionary<string, object?>
        {
            ["cluster-name"] = Encoding.UTF8.GetBytes("zürich 😀"),
            ["vhost"] = Encoding.UTF8.GetBytes("/"),
        });
        var headers = Headers(new ReadOnlyCollection<object?>([entry]));

        Assert.Equal(ForwardVerdict.Cycle, HopRules.Check(headers, 2, "zürich 😀", "/"));
        Assert.Equal(ForwardVerdict.Forward, HopRules.Check(headers, 2, "zürich 😁", "/"));
        Assert.Equal(ForwardVerdict.Forward, HopRules.Check(headers, 2, "zürich", "/"));
        Assert.Equal(ForwardVerdict.MaxHopsExceeded, HopRules.Check(headers, 1, "b", "/"));
    }

    [Fact]
    public void Trail_as_a_plain_array_is_read()
    {
        var headers = Headers(new object?[] { Table(("cluster-name", "a"), ("vhost", "/")) });

        Assert.Equal(ForwardVerdict.Cycle, HopRules.Check(headers, 2, "a", "/"));
    }

    [Fact]
    public void Check_does_not_allocate()
    {
        var headers = MessageThatLeft(Hop("a"), Hop("b"), Hop("c")).Headers;
        HopRules.Check(headers, 5, "d", "/");

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            HopRules.Check(headers, 5, "d", "/");
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
