using Federation.Core.Hops;
using static Federation.Core.Tests.Hops.Trails;
using Xunit;

namespace Federation.Core.Tests.Hops;

public class BindingHopsTests
{
    [Fact]
    public void Local_binding_carries_the_links_max_hops()
    {
        Assert.Equal(3, HopRules.BindingHops(null, 3, "up", "/"));
        Assert.Equal(3, HopRules.BindingHops(Table(("x-match", "all")), 3, "up", "/"));
    }

    [Theory]
    [InlineData(short.MaxValue + 1)]
    [InlineData(int.MaxValue)]
    public void A_max_hops_above_what_an_amqp_short_holds_propagates_bindings_with_the_largest_short(int maxHops)
    {
        // The plugin takes any positive max-hops; x-bound-from carries the hops as a short, which must not refuse the binding.
        var hops = HopRules.BindingHops(null, maxHops, "up", "/");

        Assert.Equal(short.MaxValue, hops);
        var entry = Assert.IsType<Dictionary<string, object?>>(Assert.Single(Assert.IsType<List<object?>>(HopRules.WithBoundFrom(null, "b", "/", "/:x A", hops)[HopHeaders.BoundFrom])));
        Assert.Equal(short.MaxValue, entry["hops"]);
        Assert.Equal(short.MaxValue - 1, HopRules.BindingHops(HopRules.WithBoundFrom(null, "b", "/", "/:x A", hops), maxHops, "c", "/"));
    }

    [Fact]
    public void Propagated_binding_carries_one_hop_less_capped_by_the_links_max_hops()
    {
        var boundFromB = HopRules.WithBoundFrom(null, "b", "/", "/:x A", 5);

        Assert.Equal(4, HopRules.BindingHops(boundFromB, 9, "c", "/"));
        Assert.Equal(2, HopRules.BindingHops(boundFromB, 2, "c", "/"));
        Assert.Equal(0, HopRules.BindingHops(HopRules.WithBoundFrom(null, "b", "/", "/:x A", 1), 9, "c", "/"));
    }

    [Fact]
    public void Binding_is_not_propagated_back_to_a_cluster_and_vhost_in_its_trail()
    {
        var trail = HopRules.WithBoundFrom(HopRules.WithBoundFrom(null, "a", "/", "/:x A", 5), "b", "/", "/:x A", 4);

        Assert.Equal(0, HopRules.BindingHops(trail, 9, "a", "/"));
        Assert.Equal(3, HopRules.BindingHops(trail, 9, "a", "other-vhost"));
        Assert.Equal(3, HopRules.BindingHops(trail, 9, null, "/"));
    }

    [Theory]
    [InlineData((short)3)]
    [InlineData(3)]
    [InlineData(3L)]
    [InlineData((byte)3)]
    [InlineData("3")]
    public void Previous_hops_of_any_integer_type_or_as_text_are_read(object hops)
    {
        var arguments = Table((HopHeaders.BoundFrom, new List<object?> { Table(("cluster-name", "b"), ("vhost", "/"), ("hops", hops)) }));

        Assert.Equal(2, HopRules.BindingHops(arguments, 9, "c", "/"));
    }

    [Fact]
    public void Previous_hops_as_utf8_bytes_are_read()
    {
        var arguments = Table((HopHeaders.BoundFrom, new List<object?> { Table(("hops", "3"u8.ToArray())) }));

        Assert.Equal(2, HopRules.BindingHops(arguments, 9, "c", "/"));
    }

    [Theory]
    [InlineData("not an array")]
    [InlineData(null)]
    public void Malformed_x_bound_from_is_treated_as_a_local_binding(object? malformed)
    {
        Assert.Equal(3, HopRules.BindingHops(Table((HopHeaders.BoundFrom, malformed)), 3, "c", "/"));
        Assert.Equal(3, HopRules.BindingHops(Table((HopHeaders.BoundFrom, new List<object?>())), 3, "c", "/"));
        Assert.Equal(3, HopRules.BindingHops(Table((HopHeaders.BoundFrom, new List<object?> { "not a table" })), 3, "c", "/"));
        Assert.Equal(3, HopRules.BindingHops(Table((HopHeaders.BoundFrom, new List<object?> { Table(("hops", "many")) })), 3, "c", "/"));
    }

    [Fact]
    public void Cycle_in_a_trail_with_a_malformed_newest_entry_still_stops_propagation()
    {
        var arguments = Table((HopHeaders.BoundFrom, new List<object?> { "junk", Table(("cluster-name", "c"), ("vhost", "/")) }));

        Assert.Equal(0, HopRules.BindingHops(arguments, 3, "c", "/"));
    }

    [Fact]
    public void Hops_are_never_negative()
    {
        var arguments = Table((HopHeaders.BoundFrom, new List<object?> { Table(("hops", (short)-4)) }));

        Assert.Equal(0, HopRules.BindingHops(arguments, 3, "c", "/"));
        Assert.Equal(0, HopRules.BindingHops(null, -1, "c", "/"));
    }

    [Fact]
    public void With_bound_from_prepends_the_plugins_table_to_a_copy_of_the_arguments()
    {
        var previous = Table(("cluster-name", "a"), ("vhost", "/"), ("exchange", "/:x B"), ("hops", (short)2));
        var previousTrail = new List<object?> { previous };
        var arguments = Table(("x-match", "any"), (HopHeaders.BoundFrom, previousTrail));

        var propagated = HopRules.WithBoundFrom(arguments, "b", "bv", "bv:x A", 1);

        Assert.Equal("any", propagated["x-match"]);
        var trail = Assert.IsType<List<object?>>(propagated[HopHeaders.BoundFrom]);
        Assert.Equal(2, trail.Count);
        var entry = Assert.IsType<Dictionary<string, object?>>(trail[0]);
        Assert.Equal(["cluster-name", "vhost", "exchange", "hops"], entry.Keys);
        Assert.Equal(["b", "bv", "bv:x A", (short)1], entry.Values);
        Assert.IsType<short>(entry["hops"]);
        Assert.Same(previous, trail[1]);

        Assert.Same(previousTrail, arguments[HopHeaders.BoundFrom]);
        Assert.Single(previousTrail);
        Assert.Equal(2, arguments.Count);
    }

    [Fact]
    public void With_bound_from_moves_a_malformed_trail_to_x_invalid_headers()
    {
        var propagated = HopRules.WithBoundFrom(Table((HopHeaders.BoundFrom, "junk")), "b", "/", "/:x A", 1);

        Assert.Single(Assert.IsType<List<object?>>(propagated[HopHeaders.BoundFrom]));
        var invalid = Assert.IsType<Dictionary<string, object?>>(propagated[HopHeaders.InvalidHeaders]);
        Assert.Equal(["junk"], Assert.IsType<List<object?>>(invalid[HopHeaders.BoundFrom]));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(short.MaxValue + 1)]
    public void With_bound_from_rejects_hops_that_do_not_fit_an_amqp_short(int hops)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => HopRules.WithBoundFrom(null, "b", "/", "/:x A", hops));
    }

    [Fact]
    public void Has_bound_from_looks_for_the_key()
    {
        Assert.False(HopRules.HasBoundFrom(null));
        Assert.False(HopRules.HasBoundFrom(Table(("x-match", "all"))));
        Assert.True(HopRules.HasBoundFrom(HopRules.WithBoundFrom(null, "b", "/", "/:x A", 1)));
    }
}
