using System.Text;
using Federation.Core.Hops;
using Federation.Core.InMemory;
using static Federation.Core.Tests.Hops.Trails;
using Xunit;

namespace Federation.Core.Tests.Hops;

/// <summary>
/// Propagated headers bindings: whatever the x-match mode, the upstream binding must match every message the downstream
/// binding matches, although it carries an <c>x-bound-from</c> trail that no message carries.
/// </summary>
public class HeadersBindingPropagationTests
{
    [Fact]
    public void All_with_x_is_propagated_as_all_and_remembers_its_original_mode()
    {
        var downstream = Table(("x-match", "all-with-x"), ("color", "red"), ("x-tenant", "t1"));

        var propagated = HopRules.WithBoundFrom(downstream, "b", "/", "/:x A", 1);

        Assert.Equal("all", propagated["x-match"]);
        Assert.Equal("all-with-x", propagated["x-federation-match"]);
        Assert.Equal("red", propagated["color"]);
        Assert.Equal("t1", propagated["x-tenant"]);
        Assert.True(HopRules.HasBoundFrom(propagated));
        Assert.Equal("all-with-x", downstream["x-match"]); // the caller's arguments are not modified
    }

    [Fact]
    public void All_with_x_given_as_utf8_bytes_is_relaxed_too()
    {
        var propagated = HopRules.WithBoundFrom(Table(("x-match", Encoding.UTF8.GetBytes("all-with-x"))), "b", "/", "/:x A", 1);

        Assert.Equal("all", propagated["x-match"]);
    }

    [Theory]
    [InlineData("all")]
    [InlineData("any")]
    [InlineData("any-with-x")]
    public void Other_modes_are_propagated_unchanged(string mode)
    {
        var propagated = HopRules.WithBoundFrom(Table(("x-match", mode), ("color", "red")), "b", "/", "/:x A", 1);

        Assert.Equal(mode, propagated["x-match"]);
        Assert.False(propagated.ContainsKey("x-federation-match"));
    }

    [Theory]
    [InlineData("all")]
    [InlineData("any")]
    [InlineData("all-with-x")]
    [InlineData("any-with-x")]
    public void The_upstream_binding_matches_every_message_the_downstream_binding_matches(string mode)
    {
        var downstream = Table(("x-match", mode), ("color", "red"), ("x-tenant", "t1"));
        Dictionary<string, object?>[] messages =
        [
            Table(("color", "red"), ("x-tenant", "t1")),
            Table(("color", "red")),
            Table(("x-tenant", "t1")),
            Table(("color", "blue"), ("x-tenant", "t2")),
            Table(),
        ];

        // Two hops: the trail grows, and the propagated binding is propagated again.
        var once = HopRules.WithBoundFrom(downstream, "b", "/", "/:x A", 2);
        var twice = HopRules.WithBoundFrom(once, "c", "/", "/:x A", HopRules.BindingHops(once, 2, "d", "/"));

        foreach (var message in messages)
        {
            if (HeadersMatcher.Matches(downstream, message))
            {
                Assert.True(HeadersMatcher.Matches(once, message), $"{mode}: one hop upstream misses [{string.Join(",", message.Keys)}]");
                Assert.True(HeadersMatcher.Matches(twice, message), $"{mode}: two hops upstream misses [{string.Join(",", message.Keys)}]");
            }
        }
    }

    [Fact]
    public void An_all_with_x_binding_is_a_filter_upstream_on_its_other_arguments()
    {
        var propagated = HopRules.WithBoundFrom(Table(("x-match", "all-with-x"), ("color", "red"), ("x-tenant", "t1")), "b", "/", "/:x A", 1);

        Assert.False(HeadersMatcher.Matches(propagated, Table(("color", "blue"), ("x-tenant", "t1"))));
        Assert.True(HeadersMatcher.Matches(propagated, Table(("color", "red"))));
    }

    [Fact]
    public void All_with_x_keeps_max_hops_and_cycle_safety()
    {
        var downstream = Table(("x-match", "all-with-x"), ("x-tenant", "t1"));

        var fromA = HopRules.WithBoundFrom(downstream, "a", "/", "/:x A", HopRules.BindingHops(downstream, 2, "b", "/"));
        Assert.Equal(1, HopRules.BindingHops(fromA, 2, "c", "/"));
        Assert.Equal(0, HopRules.BindingHops(fromA, 2, "a", "/"));

        var fromB = HopRules.WithBoundFrom(fromA, "b", "/", "/:x A", 1);
        Assert.Equal(0, HopRules.BindingHops(fromB, 2, "d", "/"));
        Assert.Equal("all", fromB["x-match"]);
        Assert.Equal(2, Assert.IsType<List<object?>>(fromB[HopHeaders.BoundFrom]).Count);
    }

    [Fact]
    public void A_relaxed_binding_never_equals_a_plain_all_binding_with_the_same_other_arguments()
    {
        var relaxed = HopRules.WithBoundFrom(Table(("x-match", "all-with-x"), ("color", "red")), "b", "/", "/:x A", 1);
        var plain = HopRules.WithBoundFrom(Table(("x-match", "all"), ("color", "red")), "b", "/", "/:x A", 1);

        Assert.False(Federation.Core.Transport.HeaderValueComparer.Instance.Equals(relaxed, plain));
    }
}
