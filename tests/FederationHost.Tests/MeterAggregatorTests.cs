using System.Diagnostics.Metrics;
using FederationHost.Metrics;

namespace FederationHost.Tests;

/// <summary>Aggregation semantics: counters sum per tag set, observable gauges are read on collection only.</summary>
public sealed class MeterAggregatorTests
{
    [Fact]
    public void Counters_sum_per_tag_set_whatever_the_tag_order()
    {
        var name = "Test." + Guid.NewGuid().ToString("N");
        using var meter = new Meter(name);
        using var aggregator = new MeterAggregator([name]);
        var counter = meter.CreateCounter<long>("jobs.done", "{job}", "Jobs done.");

        counter.Add(2, new("kind", "a"), new("host", "h"));
        counter.Add(3, new("host", "h"), new("kind", "a"));
        counter.Add(1, new KeyValuePair<string, object?>("kind", "b"));

        var snapshot = Assert.Single(aggregator.Collect());
        Assert.Equal(MetricKind.Counter, snapshot.Kind);
        Assert.Equal(
            ["host=h,kind=a:5", "kind=b:1"],
            snapshot.Points.Select(p => string.Join(',', p.Tags.Select(t => $"{t.Key}={t.Value}")) + ":" + p.Value));
    }

    [Fact]
    public void Counters_sum_per_tag_set_beyond_the_tag_sets_it_remembers()
    {
        // The aggregator remembers the keys of the first tag sets it sees (to skip formatting them per measurement);
        // tag sets beyond those, and values that differ only in type or value, still count apart.
        var name = "Test." + Guid.NewGuid().ToString("N");
        using var meter = new Meter(name);
        using var aggregator = new MeterAggregator([name]);
        var counter = meter.CreateCounter<long>("jobs.done", "{job}", "Jobs done.");

        for (var round = 0; round < 2; round++)
        {
            for (var link = 0; link < 100; link++)
            {
                counter.Add(1, new("link", $"l{link:D3}"), new("ok", link % 2 == 0));
            }
        }

        counter.Add(7, new KeyValuePair<string, object?>("n", 1));
        counter.Add(8, new KeyValuePair<string, object?>("n", 2));

        var points = Assert.Single(aggregator.Collect()).Points;
        Assert.Equal(102, points.Count);
        Assert.All(points.Where(p => p.Tags[0].Key == "link"), p => Assert.Equal(2, p.Value));
        Assert.Equal("l000", points[0].Tags[0].Value);
        Assert.Equal("true", points[0].Tags[1].Value);
        Assert.Equal([7d, 8d], points.Where(p => p.Tags[0].Key == "n").Select(p => p.Value));
    }

    [Fact]
    public void Histograms_keep_sum_and_count_per_tag_set()
    {
        var name = "Test." + Guid.NewGuid().ToString("N");
        using var meter = new Meter(name);
        using var aggregator = new MeterAggregator([name]);
        var histogram = meter.CreateHistogram<double>("work.duration", "s", "Time per item.");

        histogram.Record(0.25, new KeyValuePair<string, object?>("side", "a"));
        histogram.Record(0.5, new KeyValuePair<string, object?>("side", "a"));
        histogram.Record(2, new KeyValuePair<string, object?>("side", "b"));

        var snapshot = Assert.Single(aggregator.Collect());
        Assert.Equal(MetricKind.Summary, snapshot.Kind);
        Assert.Equal(
            ["side=a:0.75/2", "side=b:2/1"],
            snapshot.Points.Select(p => $"{p.Tags[0].Key}={p.Tags[0].Value}:{p.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)}/{p.Count}"));
    }

    [Fact]
    public void Observable_gauges_are_read_on_collect_and_drop_vanished_tag_sets()
    {
        var name = "Test." + Guid.NewGuid().ToString("N");
        using var meter = new Meter(name);
        using var aggregator = new MeterAggregator([name]);
        var current = new List<Measurement<int>> { new(3, new KeyValuePair<string, object?>("state", "up")), new(1, new KeyValuePair<string, object?>("state", "down")) };
        var reads = 0;
        meter.CreateObservableGauge("things", () => { reads++; return current; });

        Assert.Equal(0, reads);
        Assert.Equal([3.0, 1.0], aggregator.Collect().Single().Points.OrderBy(p => p.Tags[0].Value, StringComparer.Ordinal).Reverse().Select(p => p.Value));
        Assert.Equal(1, reads);

        current = [new(7, new KeyValuePair<string, object?>("state", "up"))];
        var point = Assert.Single(aggregator.Collect().Single().Points);
        Assert.Equal(7, point.Value);
    }

    [Fact]
    public void Meters_not_selected_are_ignored()
    {
        using var meter = new Meter("Test." + Guid.NewGuid().ToString("N"));
        using var aggregator = new MeterAggregator(["Some.Other.Meter"]);
        meter.CreateCounter<long>("ignored").Add(1);
        Assert.Empty(aggregator.Collect());
    }

    [Fact]
    public void A_scope_keeps_other_factories_meters_apart()
    {
        var name = "Test." + Guid.NewGuid().ToString("N");
        var mine = new object();
        using var ours = new Meter(new MeterOptions(name) { Scope = mine });
        using var theirs = new Meter(new MeterOptions(name) { Scope = new object() });
        using var aggregator = new MeterAggregator([name], mine);
        ours.CreateCounter<long>("c").Add(1);
        theirs.CreateCounter<long>("c").Add(100);

        var snapshot = Assert.Single(aggregator.Collect());
        Assert.Equal(1, Assert.Single(snapshot.Points).Value);
    }
}
