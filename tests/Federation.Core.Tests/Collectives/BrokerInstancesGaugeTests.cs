using System.Diagnostics.Metrics;
using Federation.Core.Collectives;
using Federation.Core.Diagnostics;
using Federation.Core.InMemory.Subjects;
using Federation.Core.Tests.Support;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// The <c>federation.broker.instances</c> gauge shows every running instance and its state from its start: the broker's
/// counters appear only once added to, so before 7 Dec 2026 a scrape of a host whose instance had carried nothing, or
/// could not connect, showed no broker at all.
/// </summary>
public sealed class BrokerInstancesGaugeTests
{
    [Fact]
    public async Task A_running_instance_is_observed_connecting_then_connected_before_any_traffic_and_gone_after_its_stop()
    {
        await using var testbed = new CollectivesTestbed();
        var time = new FakeTimeProvider();
        testbed.Registry.GetOrAdd("fed");
        var london = testbed.Registry.GetOrAdd("gauge-london");
        london.Stop();
        var broker = new FederationBroker(
            new FederationBrokerOptions { ClusterName = "gauged", FederationUri = "memory://fed", CollectiveUri = "memory://gauge-london", InstanceName = "gauged-1" },
            [testbed.Transport], testbed.Telemetry, timeProvider: time);
        await using (broker)
        {
            Assert.Empty(Observe());

            await broker.StartAsync(CancellationToken.None);
            Assert.Equal(new Dictionary<string, int> { ["connected"] = 0, ["connecting"] = 1 }, Observe());

            london.Start();
            await CollectivesTestbed.WaitUntilAsync(() => time.PendingTimers == 1, "the broker waits for its next attempt");
            time.Advance(TimeSpan.FromSeconds(1));
            await CollectivesTestbed.WaitUntilAsync(() => broker.IsConnected, "the instance connects");
            Assert.Equal(new Dictionary<string, int> { ["connected"] = 1, ["connecting"] = 0 }, Observe());
            Assert.Equal(0, broker.Statistics.RequestsReceived);

            await broker.StopAsync(CancellationToken.None);
            Assert.Empty(Observe());
        }
    }

    /// <summary>The gauge's values for the cluster of this test, by <c>federation.broker.state</c>.</summary>
    private static Dictionary<string, int> Observe()
    {
        var values = new Dictionary<string, int>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == FederationTelemetry.SourceName && instrument.Name == "federation.broker.instances")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, value, tags, _) =>
        {
            var map = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                map[tag.Key] = tag.Value;
            }

            if ((string?)map["federation.broker.cluster"] == "gauged")
            {
                Assert.Equal("gauged-1", map["federation.broker.instance"]);
                values[(string)map["federation.broker.state"]!] = value;
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return values;
    }
}
