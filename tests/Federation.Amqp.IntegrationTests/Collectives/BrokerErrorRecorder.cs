using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Federation.Core.Diagnostics;

namespace Federation.Amqp.IntegrationTests.Collectives;

/// <summary>The broker error counts of one cluster, by error type and direction.</summary>
internal sealed class BrokerErrorRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string? Type, string? Direction)> _errors = new();

    public BrokerErrorRecorder(string cluster)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == FederationTelemetry.SourceName && instrument.Name == "federation.broker.errors")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            var map = new Dictionary<string, string?>();
            foreach (var tag in tags)
            {
                map[tag.Key] = tag.Value?.ToString();
            }

            if (map.GetValueOrDefault("federation.broker.cluster") == cluster)
            {
                for (var i = 0; i < value; i++)
                {
                    _errors.Enqueue((map.GetValueOrDefault("error.type"), map.GetValueOrDefault("federation.broker.direction")));
                }
            }
        });
        _listener.Start();
    }

    public int Count(string type, string direction) => _errors.Count(e => e.Type == type && e.Direction == direction);

    public void Dispose() => _listener.Dispose();
}
