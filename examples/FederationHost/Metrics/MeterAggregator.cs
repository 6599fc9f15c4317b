using System.Diagnostics.Metrics;
using System.Globalization;

namespace FederationHost.Metrics;

/// <summary>
/// Listens to the instruments of selected meters and keeps what a pull-based exporter needs: counters and up-down
/// counters summed per tag set, histograms as sum and count, synchronous gauges and all observable instruments as their last value. Observable
/// instruments are only read on <see cref="Collect"/>, so a scrape sees current values and tag sets that disappeared
/// since the previous scrape (for example a link state with no links) are dropped.
/// Thread-safe.
/// </summary>
public sealed class MeterAggregator : IDisposable
{
    private readonly HashSet<string> _meterNames;
    private readonly object? _scope;
    private readonly MeterListener _listener = new();
    // Reentrant: RecordObservableInstruments calls back into OnMeasurement on the collecting thread.
    private readonly Lock _gate = new();
    private readonly Dictionary<Instrument, InstrumentState> _instruments = [];

    /// <summary>Starts listening. Measurements made before this are not seen, so create it before the instruments are used.</summary>
    /// <param name="meterNames">The meters to aggregate, by exact name.</param>
    /// <param name="scope">
    /// When not null, only meters with this <see cref="Meter.Scope"/> (or none) are aggregated. Pass the host's
    /// <see cref="IMeterFactory"/>: several hosts in one process (tests) then do not see each other's measurements.
    /// </param>
    public MeterAggregator(IEnumerable<string> meterNames, object? scope = null)
    {
        ArgumentNullException.ThrowIfNull(meterNames);
        _meterNames = new HashSet<string>(meterNames, StringComparer.Ordinal);
        _scope = scope;
        _listener.InstrumentPublished = OnInstrumentPublished;
        _listener.MeasurementsCompleted = OnMeasurementsCompleted;
        _listener.SetMeasurementEventCallback<long>((i, v, t, _) => OnMeasurement(i, v, t));
        _listener.SetMeasurementEventCallback<int>((i, v, t, _) => OnMeasurement(i, v, t));
        _listener.SetMeasurementEventCallback<short>((i, v, t, _) => OnMeasurement(i, v, t));
        _listener.SetMeasurementEventCallback<byte>((i, v, t, _) => OnMeasurement(i, v, t));
        _listener.SetMeasurementEventCallback<double>((i, v, t, _) => OnMeasurement(i, v, t));
        _listener.SetMeasurementEventCallback<float>((i, v, t, _) => OnMeasurement(i, v, t));
        _listener.SetMeasurementEventCallback<decimal>((i, v, t, _) => OnMeasurement(i, (double)v, t));
        _listener.Start();
    }

    /// <summary>Reads the observable instruments and returns every instrument's values, ordered by meter and instrument name.</summary>
    public IReadOnlyList<InstrumentSnapshot> Collect()
    {
        lock (_gate)
        {
            foreach (var state in _instruments.Values)
            {
                if (state.IsObservable)
                {
                    state.Points.Clear();
                }
            }

            _listener.RecordObservableInstruments();
            return [.. _instruments.Values
                .OrderBy(s => s.Instrument.Meter.Name, StringComparer.Ordinal)
                .ThenBy(s => s.Instrument.Name, StringComparer.Ordinal)
                .Select(s => s.Snapshot())];
        }
    }

    /// <inheritdoc />
    public void Dispose() => _listener.Dispose();

    private void OnInstrumentPublished(Instrument instrument, MeterListener listener)
    {
        if (!_meterNames.Contains(instrument.Meter.Name) ||
            (_scope is not null && instrument.Meter.Scope is not null && !ReferenceEquals(instrument.Meter.Scope, _scope)) ||
            Classify(instrument) is not { } kind)
        {
            return;
        }

        lock (_gate)
        {
            _instruments[instrument] = new InstrumentState(instrument, kind.Kind, kind.Accumulate, instrument.IsObservable);
        }

        listener.EnableMeasurementEvents(instrument);
    }

    private void OnMeasurementsCompleted(Instrument instrument, object? state)
    {
        lock (_gate)
        {
            _instruments.Remove(instrument);
        }
    }

    private void OnMeasurement<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        where T : struct, IConvertible
    {
        var number = value.ToDouble(CultureInfo.InvariantCulture);
        lock (_gate)
        {
            if (!_instruments.TryGetValue(instrument, out var state))
            {
                return;
            }

            var (key, sorted) = KeyOf(state, tags);

            var count = state.Kind == MetricKind.Summary ? 1 : 0;
            if (state.Accumulate && state.Points.TryGetValue(key, out var existing))
            {
                state.Points[key] = existing with { Value = existing.Value + number, Count = existing.Count + count };
            }
            else
            {
                state.Points[key] = new MetricPoint(sorted, number, count);
            }
        }
    }

    /// <summary>
    /// The point key of a tag set. A link records the same few tag sets for every message, so the keys seen are kept per
    /// instrument and found by comparing the tags, instead of sorting and formatting them (and allocating) per measurement.
    /// </summary>
    private static (string Key, KeyValuePair<string, string>[] Sorted) KeyOf(InstrumentState state, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (var known in state.KnownTagSets)
        {
            if (SameTags(known.Tags, tags))
            {
                return (known.Key, known.Sorted);
            }
        }

        var sorted = SortTags(tags);
        var key = string.Join('\u0001', sorted.Select(t => t.Key + '\u0002' + t.Value));
        if (state.KnownTagSets.Count < InstrumentState.MaxKnownTagSets)
        {
            state.KnownTagSets.Add(new KnownTagSet(tags.ToArray(), key, sorted));
        }

        return (key, sorted);
    }

    private static bool SameTags(KeyValuePair<string, object?>[] known, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (known.Length != tags.Length)
        {
            return false;
        }

        for (var i = 0; i < known.Length; i++)
        {
            if (!string.Equals(known[i].Key, tags[i].Key, StringComparison.Ordinal) || !Equals(known[i].Value, tags[i].Value))
            {
                return false;
            }
        }

        return true;
    }

    private static KeyValuePair<string, string>[] SortTags(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var result = new KeyValuePair<string, string>[tags.Length];
        for (var i = 0; i < tags.Length; i++)
        {
            result[i] = new(tags[i].Key, TagText(tags[i].Value));
        }

        Array.Sort(result, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return result;
    }

    private static string TagText(object? value) => value switch
    {
        null => string.Empty,
        string text => text,
        bool flag => flag ? "true" : "false",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

    /// <summary>Counters are monotonic sums; histograms are sums with a count; up-down counters are sums exported as gauges; observable instruments report their current total or value.</summary>
    private static (MetricKind Kind, bool Accumulate)? Classify(Instrument instrument)
    {
        var definition = instrument.GetType().IsGenericType ? instrument.GetType().GetGenericTypeDefinition() : null;
        if (definition == typeof(Counter<>))
        {
            return (MetricKind.Counter, true);
        }

        if (definition == typeof(Histogram<>))
        {
            return (MetricKind.Summary, true);
        }

        if (definition == typeof(UpDownCounter<>))
        {
            return (MetricKind.Gauge, true);
        }

        if (definition == typeof(ObservableCounter<>))
        {
            return (MetricKind.Counter, false);
        }

        if (definition == typeof(ObservableGauge<>) || definition == typeof(ObservableUpDownCounter<>) || definition == typeof(Gauge<>))
        {
            return (MetricKind.Gauge, false);
        }

        return null;
    }

    private sealed record KnownTagSet(KeyValuePair<string, object?>[] Tags, string Key, KeyValuePair<string, string>[] Sorted);

    private sealed class InstrumentState(Instrument instrument, MetricKind kind, bool accumulate, bool isObservable)
    {
        public Instrument Instrument { get; } = instrument;
        public MetricKind Kind { get; } = kind;
        public bool Accumulate { get; } = accumulate;
        public bool IsObservable { get; } = isObservable;
        public const int MaxKnownTagSets = 64;

        public Dictionary<string, MetricPoint> Points { get; } = new(StringComparer.Ordinal);

        /// <summary>Tag sets already seen, in the order they were recorded, with their point key (see <see cref="KeyOf"/>).</summary>
        public List<KnownTagSet> KnownTagSets { get; } = [];

        public InstrumentSnapshot Snapshot() => new(
            Instrument.Meter.Name,
            Instrument.Name,
            Instrument.Unit,
            Instrument.Description,
            Kind,
            [.. Points.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Value)]);
    }
}
