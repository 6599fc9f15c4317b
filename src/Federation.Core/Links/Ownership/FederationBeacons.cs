using Federation.Core.Diagnostics;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links.Ownership;

/// <summary>
/// Publishes this instance's <see cref="FederationBeacon"/> with each heartbeat, on a publisher of its own (see
/// <c>InstancePresence.OpenBeaconsAsync</c>), for one downstream session.
/// </summary>
internal sealed class FederationBeacons(IMessagePublisher publisher, FederationBeacon beacon, TimeSpan publishWithin, TimeProvider time, ILogger logger) : IAsyncDisposable
{
    private readonly byte[] _body = beacon.Encode();

    /// <summary>
    /// Publishes the beacon, listing <paramref name="heldFlows"/>; false when that failed, after which the session sends no
    /// more (the next session tries again). A publish that blocks (flow control) is given up after
    /// <c>publishWithin</c> (one heartbeat interval), so that the heartbeat after it is not
    /// late by more than that.
    /// </summary>
    public async Task<bool> BeatAsync(IReadOnlySet<string> heldFlows, CancellationToken cancellationToken)
    {
        var properties = new MessageProperties { Headers = (beacon with { Flows = heldFlows }).Headers() };
        try
        {
            await publisher.PublishAsync(FederationBeacon.Exchange, string.Empty, properties, _body, cancellationToken).AsTask()
                .WaitAsync(publishWithin, time, cancellationToken).ConfigureAwait(false);
            return true;
        }
#pragma warning disable CA1031 // Best effort, see the summary: the heartbeats go on whatever happens here.
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
        {
            Log.BeaconFailed(logger, ex, beacon.Instance, FederationBeacon.Exchange);
            return false;
        }
    }

    public ValueTask DisposeAsync() => publisher.DisposeAsync();
}
