using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;
using static Federation.Core.Tests.Engine.HeldConfirmsTransport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// On-confirm acks upstream only what the downstream confirmed, with <c>multiple=true</c> up to the highest delivery
/// below which all are confirmed, however the confirms are ordered; a nacked delivery goes back to the upstream queue.
/// </summary>
public sealed class UpstreamAckTests : IAsyncLifetime
{
    private const string UpstreamQueue = "federation: upstream -> D:fed.downstream";

    private readonly Testbed _bed = new();
    private HeldConfirmsTransport _transport = null!;

    public Task InitializeAsync()
    {
        _bed.WrapTransport = inner => _transport = new HeldConfirmsTransport(inner);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var confirm in _transport.Held)
        {
            confirm.TrySetResult();
        }

        await _bed.DisposeAsync();
    }

    [Fact]
    public async Task Out_of_order_confirms_ack_the_confirmed_prefix_with_multiple()
    {
        var (_, queue) = await _bed.StartSimpleLinkAsync(u => u.AckMode = AckMode.OnConfirm);
        await PublishUpstreamAsync(4);
        await Testbed.Eventually(() => _transport.Held.Count == 4 && queue.Count == 4, () => $"{_transport.Held.Count} held, {queue.Count} routed");

        // 3 is confirmed before 1: only 1 may be acked, since 2 is still unconfirmed.
        _transport.Held[2].SetResult();
        _transport.Held[0].SetResult();
        await Testbed.Eventually(() => _transport.Settlements.Count == 1, Describe);

        // Confirming 2 completes the prefix up to 3: one ack with multiple covers 2 and 3.
        _transport.Held[1].SetResult();
        await Testbed.Eventually(() => _transport.Settlements.Count == 2, Describe);
        _transport.Held[3].SetResult();
        await Testbed.Eventually(() => _transport.Settlements.Count == 3, Describe);

        Assert.Equal([new Settlement(true, 1, false), new Settlement(true, 3, true), new Settlement(true, 4, false)], _transport.Settlements);
        await queue.ExpectNoMoreThanAsync(4);
        Assert.Equal(4, _transport.Held.Count); // Nothing came back from the upstream: every delivery was acked once.
    }

    [Fact]
    public async Task A_nack_is_sent_before_any_ack_that_covers_it_and_the_message_comes_back()
    {
        var (engine, queue) = await _bed.StartSimpleLinkAsync(u => { u.AckMode = AckMode.OnConfirm; u.ReconnectDelaySeconds = 0.1; });
        await PublishUpstreamAsync(3);
        await Testbed.Eventually(() => _transport.Held.Count == 3, () => $"{_transport.Held.Count} held");

        _transport.Held[0].SetResult();
        _transport.Held[2].SetResult();
        await Testbed.Eventually(() => _transport.Settlements.Count == 1, Describe);
        _transport.Held[1].SetException(new PublishNackedException("refused by the test"));
        await Testbed.Eventually(() => _transport.Settlements.Count >= 3, Describe);

        // The nack goes first; only then may an ack with multiple reach past it (it no longer covers the nacked one).
        Assert.Equal([new Settlement(true, 1, false), new Settlement(false, 2, false), new Settlement(true, 3, true)], _transport.Settlements.Take(3));

        // The link restarts after the nack; the requeued message comes back (maybe more than once, since the restart
        // returns whatever was unacked) and is confirmed from now on. The acked ones never come back.
        await Testbed.Eventually(() =>
        {
            foreach (var confirm in _transport.Held)
            {
                confirm.TrySetResult();
            }

            return queue.Bodies.Count(body => body == "m1") >= 2 && engine.GetLinks()[0].State == LinkState.Running;
        }, () => string.Join(", ", queue.Bodies));
        await queue.ExpectNoMoreThanAsync(queue.Count);
        Assert.Equal(["m0", "m1", "m2"], queue.Bodies.Take(3));
        Assert.Single(queue.Bodies, "m0");
        Assert.Single(queue.Bodies, "m2");
        Assert.Equal(0, _bed.Broker("U").GetMessageCount("/", UpstreamQueue));
    }

    [Fact]
    public async Task A_message_the_downstream_can_never_take_is_counted_and_rejected_instead_of_coming_back()
    {
        // Returned to the upstream queue, it would be redelivered first after every restart, and a durable upstream would
        // hold everything behind it; the link counts the loss and goes on instead.
        var (engine, queue) = await _bed.StartSimpleLinkAsync(u => { u.AckMode = AckMode.OnConfirm; u.ReconnectDelaySeconds = 0.1; });
        await PublishUpstreamAsync(3);
        await Testbed.Eventually(() => _transport.Held.Count == 3, () => $"{_transport.Held.Count} held");

        _transport.Held[0].SetResult();
        _transport.Held[1].SetException(new MessageRefusedException("too large for the test"));
        _transport.Held[2].SetResult();
        await Testbed.Eventually(() => _transport.Settlements.Any(s => s.DeliveryTag == 3), Describe);

        // Rejected without requeueing (a dead-letter exchange on the upstream queue would keep it), the others acked; no
        // ack names the rejected tag (RabbitMQ would close the channel over an unknown tag).
        Assert.Contains(_transport.Settlements, s => !s.Ack && s.DeliveryTag == 2 && !s.Multiple);
        Assert.All(_transport.Settlements.Where(s => s.DeliveryTag != 2), s => Assert.True(s.Ack, Describe()));
        Assert.DoesNotContain(_transport.Settlements, s => s.Ack && s.DeliveryTag == 2);
        var link = Assert.Single(engine.GetLinks());
        Assert.Equal(LinkState.Running, link.State);
        Assert.Equal(1, link.DroppedMessages?.GetValueOrDefault("downstream_rejected"));
        await queue.ExpectNoMoreThanAsync(3);
        Assert.Equal(3, _transport.Held.Count); // nothing came back from the upstream
        Assert.Equal(0, _bed.Broker("U").GetMessageCount("/", UpstreamQueue));
    }

    private async Task PublishUpstreamAsync(int count)
    {
        var publisher = await _bed.ConnectAsync("U");
        for (var i = 0; i < count; i++)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", $"m{i}");
        }
    }

    private string Describe() => string.Join(", ", _transport.Settlements);
}
