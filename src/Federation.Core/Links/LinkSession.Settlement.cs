using System.Runtime.CompilerServices;
using Federation.Core.Diagnostics;
using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// Waiting for a forward's publish to complete without an async method per message: an async method's state machine was
/// one of the largest allocations of a forward (it is boxed on its first await, and a pipelined publish always awaits).
/// A pooled <see cref="PublishSettlement"/> registers its one cached continuation on the publish's <see cref="ValueTask"/>
/// instead, and returns to the pool before it settles the forward.
/// </summary>
internal sealed partial class LinkSession
{
    // Settlements waiting for no publish; at most a prefetch's worth are in use at once, so the pool stays that small.
    private readonly Stack<PublishSettlement> _settlements = new();

    /// <summary>Settles the forward of <paramref name="deliveryTag"/> when <paramref name="published"/> completes, without holding the caller.</summary>
    private void SettleWhenPublished(IMessageConsumer consumer, ValueTask published, ulong deliveryTag, ForwardSpans spans)
    {
        PublishSettlement? settlement;
        lock (_settlements)
        {
            _settlements.TryPop(out settlement);
        }

        (settlement ?? new PublishSettlement(this)).Start(consumer, published, deliveryTag, spans);
    }

    private void Reuse(PublishSettlement settlement)
    {
        lock (_settlements)
        {
            _settlements.Push(settlement);
        }
    }

    /// <summary>One forward between its publish and the publish's outcome; reused for the next forward once it has that outcome.</summary>
    private sealed class PublishSettlement
    {
        private readonly LinkSession _session;
        private readonly Action _onPublished;
        private ConfiguredValueTaskAwaitable.ConfiguredValueTaskAwaiter _published;
        private IMessageConsumer? _consumer;
        private ulong _deliveryTag;
        private ForwardSpans _spans;

        public PublishSettlement(LinkSession session)
        {
            _session = session;
            _onPublished = OnPublished;
        }

        public void Start(IMessageConsumer consumer, ValueTask published, ulong deliveryTag, ForwardSpans spans)
        {
            _consumer = consumer;
            _deliveryTag = deliveryTag;
            _spans = spans;
            _published = published.ConfigureAwait(false).GetAwaiter();
            if (_published.IsCompleted)
            {
                OnPublished();
                return;
            }

            // Unsafe: no execution context flows, as none is needed to settle (the spans are ended explicitly), and capturing
            // one would allocate. The publisher may run this inline where it completes the publish; settling never blocks.
            _published.UnsafeOnCompleted(_onPublished);
        }

        private void OnPublished()
        {
            var consumer = _consumer!;
            var deliveryTag = _deliveryTag;
            var spans = _spans;
            var published = _published;
            _consumer = null;
            _spans = default;
            _published = default;

            // Exactly one GetResult per publish: a pooled publish goes back to its own pool there.
            Exception? failure = null;
            try
            {
                published.GetResult();
            }
            catch (Exception ex)
            {
                failure = ex;
            }

            _session.Reuse(this);
            if (failure is null)
            {
                _session.Published(consumer, deliveryTag, spans);
            }
            else
            {
                // Rare (a nack, a lost channel): the async path may have to wait for a nack upstream.
                _ = _session.PublishFailedAsync(consumer, deliveryTag, spans, failure);
            }
        }
    }
}
