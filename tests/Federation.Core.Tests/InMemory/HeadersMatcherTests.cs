using System.Text;
using Federation.Core.InMemory;
using static Federation.Core.Tests.Hops.Trails;
using Xunit;

namespace Federation.Core.Tests.InMemory;

/// <summary>The in-memory broker's headers matching, case by case as RabbitMQ's <c>rabbit_exchange_type_headers</c>.</summary>
public class HeadersMatcherTests
{
    [Theory]
    [InlineData("all", false)]
    [InlineData("any", false)]
    [InlineData("all-with-x", true)]
    [InlineData("any-with-x", true)]
    public void X_arguments_take_part_only_with_the_with_x_modes(string mode, bool xArgumentsCount)
    {
        var binding = Table(("x-match", mode), ("x-tenant", "t1"));

        // all without any argument that takes part matches everything; any matches nothing.
        var withoutHeader = Table(("color", "red"));
        Assert.Equal(mode == "all", HeadersMatcher.Matches(binding, withoutHeader));
        Assert.Equal(xArgumentsCount || mode == "all", HeadersMatcher.Matches(binding, Table(("x-tenant", "t1"))));
        Assert.Equal(mode == "all", HeadersMatcher.Matches(binding, Table(("x-tenant", "t2"))));
    }

    [Fact]
    public void All_with_x_needs_every_argument_and_any_with_x_one()
    {
        var all = Table(("x-match", "all-with-x"), ("color", "red"), ("x-tenant", "t1"));
        var any = Table(("x-match", "any-with-x"), ("color", "red"), ("x-tenant", "t1"));

        Assert.True(HeadersMatcher.Matches(all, Table(("color", "red"), ("x-tenant", "t1"), ("extra", 1))));
        Assert.False(HeadersMatcher.Matches(all, Table(("color", "red"))));
        Assert.False(HeadersMatcher.Matches(all, Table(("x-tenant", "t1"))));
        Assert.True(HeadersMatcher.Matches(any, Table(("color", "red"))));
        Assert.True(HeadersMatcher.Matches(any, Table(("x-tenant", "t1"))));
        Assert.False(HeadersMatcher.Matches(any, Table(("color", "blue"), ("x-tenant", "t2"))));
        Assert.False(HeadersMatcher.Matches(any, null));
    }

    [Fact]
    public void The_x_match_argument_itself_never_has_to_be_a_header()
    {
        Assert.True(HeadersMatcher.Matches(Table(("x-match", "all-with-x"), ("color", "red")), Table(("color", "red"))));
    }

    [Fact]
    public void The_mode_may_arrive_as_utf8_bytes()
    {
        var binding = Table(("x-match", Encoding.UTF8.GetBytes("any-with-x")), ("x-tenant", "t1"), ("color", "red"));

        Assert.True(HeadersMatcher.Matches(binding, Table(("x-tenant", "t1"))));
        Assert.False(HeadersMatcher.Matches(binding, Table(("color", "blue"))));
    }
}
