namespace Federation.Core.Collectives;

/// <summary>
/// One message's pass through a broker relay, for <c>federation.broker.*</c> (see <see cref="RelayOutcomes.Measure"/>):
/// counted as received when it starts, and its processing time recorded when it is disposed, whatever came of it
/// (forwarded, rejected or failed).
/// </summary>
internal readonly struct RelayMeasurement : IDisposable
{
    private readonly BrokerMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly bool _isRequest;
    private readonly long _started;

    public RelayMeasurement(BrokerMetrics metrics, TimeProvider time, bool isRequest)
    {
        _metrics = metrics;
        _time = time;
        _isRequest = isRequest;
        _started = time.GetTimestamp();
        metrics.Received(isRequest);
    }

    /// <summary>The message is done with: records how long it took.</summary>
    public void Dispose() => _metrics.Processed(_isRequest, _time.GetElapsedTime(_started));
}
