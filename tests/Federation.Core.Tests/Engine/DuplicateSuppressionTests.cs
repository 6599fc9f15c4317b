using Federation.Core.InMemory;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;
using Xunit;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Duplicate suppression on the in-memory transport. A repeat is simulated either by publishing a message with the same
/// message-id upstream again (checked whether redelivered or not), or by a real redelivery: the upstream connection goes
/// after the downstream took a unit and before the link acknowledged it.
/// </summary>
public sealed class DuplicateSuppressionTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    private static MessageProperties WithId(int i) => new() { MessageId = $"id-{i}", Persistent = true };

    private static async Task PublishAllAsync(IBrokerConnection publisher, int count, Func<int, MessageProperties>? properties = null, Func<int, string>? body = null)
    {
        for (var i = 0; i < count; i++)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", body?.Invoke(i) ?? $"m{i}", properties?.Invoke(i) ?? new MessageProperties { Persistent = true });
        }
    }

    [Fact]
    public async Task A_message_forwarded_before_is_acknowledged_upstream_and_not_forwarded_again()
    {
        var (engine, queue) = await _bed.StartSimpleLinkAsync();
        var publisher = await _bed.ConnectAsync("U");
        await PublishAllAsync(publisher, 20, WithId);
        await Testbed.Eventually(() => queue.Count == 20, () => $"{queue.Count} of 20");

        await PublishAllAsync(publisher, 20, WithId);
        await Testbed.Eventually(
            () => engine.GetLinks()[0].DroppedMessages?.GetValueOrDefault("duplicate") == 20,
            () => $"dropped: {string.Join(", ", engine.GetLinks()[0].DroppedMessages ?? new Dictionary<string, long>())}");
        await Testbed.Eventually(() => _bed.Broker("U").GetMessageCount("/", "federation: upstream -> D:fed.downstream") == 0, () => "upstream queue not drained");
        await queue.ExpectNoMoreThanAsync(20);
    }

    [Fact]
    public async Task The_window_survives_the_host_because_it_is_read_back_from_the_downstream()
    {
        static void Configure(UpstreamDefinition u) => u.ResourceCleanupMode = ResourceCleanupMode.Never;
        var (engine, queue) = await _bed.StartSimpleLinkAsync(Configure);
        var publisher = await _bed.ConnectAsync("U");
        await PublishAllAsync(publisher, 30, WithId);
        await Testbed.Eventually(() => queue.Count == 30, () => $"{queue.Count} of 30");

        // The host goes away; the same messages come again while it is down (as redeliveries would).
        await engine.DisposeAsync();
        await PublishAllAsync(publisher, 30, WithId);
        await PublishAllAsync(publisher, 5, body: i => $"new{i}");

        var again = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U", u => { u.Exchange = "upstream"; Configure(u); }).Policy("fed", "^fed\\.", upstream: "u"));
        await Testbed.Eventually(() => queue.Count == 35, () => $"{queue.Count} of 35");
        await Testbed.Eventually(() => again.GetLinks() is [{ DroppedMessages: { } dropped }] && dropped.GetValueOrDefault("duplicate") == 30, () => "30 duplicates");
        Assert.Equal([.. Enumerable.Range(0, 30).Select(i => $"m{i}"), .. Enumerable.Range(0, 5).Select(i => $"new{i}")], queue.Bodies);
    }

    [Fact]
    public async Task A_publisher_reusing_message_ids_is_told_in_the_log_at_most_once_a_minute()
    {
        // Different messages with the ids of earlier ones, none of them a redelivery: suppression drops them (one id is
        // one message), and that must not be visible in a counter only.
        using var logs = new Support.CapturingLoggerProvider();
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u"), loggerFactory: logs.AsFactory());
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        var queue = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);
        var publisher = await _bed.ConnectAsync("U");
        await PublishAllAsync(publisher, 5, WithId, i => $"first run {i}");
        await Testbed.Eventually(() => queue.Count == 5, () => $"{queue.Count} of 5");

        await PublishAllAsync(publisher, 5, WithId, i => $"second run {i}");
        await Testbed.Eventually(
            () => engine.GetLinks()[0].DroppedMessages?.GetValueOrDefault("duplicate") == 5,
            () => $"dropped: {string.Join(", ", engine.GetLinks()[0].DroppedMessages ?? new Dictionary<string, long>())}");

        var warning = Assert.Single(logs.WithId(1006));
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, warning.Level);
        Assert.Contains("'id-0'", warning.Message, StringComparison.Ordinal);
        Assert.Contains("reuses message ids", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Equal_messages_without_a_message_id_are_all_forwarded_when_they_are_not_redeliveries()
    {
        // A heartbeat sent every minute is ten messages, not one message and nine repeats.
        var (engine, queue) = await _bed.StartSimpleLinkAsync();
        var publisher = await _bed.ConnectAsync("U");
        await PublishAllAsync(publisher, 10, body: _ => "heartbeat");

        await Testbed.Eventually(() => queue.Count == 10, () => $"{queue.Count} of 10");
        await queue.ExpectNoMoreThanAsync(10);
        Assert.Null(engine.GetLinks()[0].DroppedMessages);
    }

    [Fact]
    public async Task A_redelivery_of_a_forwarded_message_without_a_message_id_is_dropped()
    {
        var (engine, queue) = await _bed.StartSimpleLinkAsync(u => u.ReconnectDelaySeconds = 0.1);
        var lostAcks = 0;
        _bed.Broker("D").PublishInterceptor = context =>
        {
            // The first unit reaches the downstream, but the upstream connection goes before the link can acknowledge it:
            // the upstream delivers those messages again, flagged as redelivered.
            if (context.Exchange == "fed.downstream" && Interlocked.Exchange(ref lostAcks, 1) == 0)
            {
                _bed.Broker("U").DropConnections();
            }

            return PublishOutcome.Accept;
        };
        var publisher = await _bed.ConnectAsync("U");
        await PublishAllAsync(publisher, 20);

        await Testbed.Eventually(
            () => queue.Count == 20 && engine.GetLinks() is [{ DroppedMessages: { } dropped }] && dropped.GetValueOrDefault("duplicate") > 0,
            () => $"{queue.Count} of 20; dropped: {string.Join(", ", engine.GetLinks()[0].DroppedMessages ?? new Dictionary<string, long>())}");
        await Testbed.Eventually(() => _bed.Broker("U").GetMessageCount("/", "federation: upstream -> D:fed.downstream") == 0, () => "upstream queue not drained");
        await queue.ExpectNoMoreThanAsync(20);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}"), queue.Bodies);
    }

    [Fact]
    public async Task Turned_off_the_same_messages_are_forwarded_again()
    {
        var (engine, queue) = await _bed.StartSimpleLinkAsync(u => u.DuplicateSuppression = false);
        var publisher = await _bed.ConnectAsync("U");
        await PublishAllAsync(publisher, 10, WithId);
        await PublishAllAsync(publisher, 10, WithId);

        await Testbed.Eventually(() => queue.Count == 20, () => $"{queue.Count} of 20");
        Assert.Null(engine.GetLinks()[0].DroppedMessages);
    }

    [Theory]
    [InlineData(AckMode.OnPublish)]
    [InlineData(AckMode.NoAck)]
    public async Task Only_on_confirm_links_suppress(AckMode mode)
    {
        var (_, queue) = await _bed.StartSimpleLinkAsync(u => u.AckMode = mode);
        var publisher = await _bed.ConnectAsync("U");
        await PublishAllAsync(publisher, 5, WithId);
        await PublishAllAsync(publisher, 5, WithId);

        await Testbed.Eventually(() => queue.Count == 10, () => $"{queue.Count} of 10");
    }

    [Fact]
    public async Task Messages_with_different_message_ids_are_different_even_with_equal_bodies()
    {
        var (_, queue) = await _bed.StartSimpleLinkAsync();
        var publisher = await _bed.ConnectAsync("U");
        await PublishAllAsync(publisher, 10, i => new MessageProperties { MessageId = $"id-{i}" }, _ => "same body");
        await PublishAllAsync(publisher, 10, i => new MessageProperties { MessageId = $"id-{i}" }, _ => "same body, resent");

        await Testbed.Eventually(() => queue.Count == 10, () => $"{queue.Count} of 10");
        await queue.ExpectNoMoreThanAsync(10);
    }

    [Fact]
    public async Task A_unit_the_downstream_refuses_is_neither_recorded_nor_lost()
    {
        var (engine, queue) = await _bed.StartSimpleLinkAsync(u => u.ReconnectDelaySeconds = 0.1);
        var refused = 0;
        _bed.Broker("D").PublishInterceptor = context =>
        {
            if (context.Exchange != "fed.downstream" || Interlocked.Increment(ref refused) > 3)
            {
                return PublishOutcome.Accept;
            }

            return refused % 2 == 0 ? PublishOutcome.Nack : PublishOutcome.DropConnection;
        };
        var publisher = await _bed.ConnectAsync("U");
        await PublishAllAsync(publisher, 20);

        // Refused units were not recorded, so their redeliveries are forwarded, and exactly once.
        await Testbed.Eventually(() => queue.Count == 20 && Volatile.Read(ref refused) > 3, () => $"{queue.Count} of 20, {refused} refused");
        await queue.ExpectNoMoreThanAsync(20);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}").Order(), queue.Bodies.Order());
        Assert.Null(engine.GetLinks()[0].DroppedMessages);
    }

    [Fact]
    public async Task A_unit_whose_commit_went_unanswered_but_went_through_is_not_revoked_and_not_forwarded_again()
    {
        // A blocked downstream (memory alarm) leaves the commit unanswered past the client's timeout, then completes it:
        // the unit's messages and record are stored. The link restarts; the redeliveries are duplicates, dropped.
        UnansweredCommitLedgerTransport? transport = null;
        _bed.WrapTransport = inner => transport = new UnansweredCommitLedgerTransport(inner);
        var (engine, queue) = await _bed.StartSimpleLinkAsync(u => u.ReconnectDelaySeconds = 0.1);
        var publisher = await _bed.ConnectAsync("U");
        await PublishAllAsync(publisher, 20, WithId);

        await Testbed.Eventually(() => queue.Count == 20, () => $"{queue.Count} of 20");
        await Testbed.Eventually(() => _bed.Broker("U").GetMessageCount("/", "federation: upstream -> D:fed.downstream") == 0, () => "upstream queue not drained");
        Assert.True(transport!.Unanswered);
        await queue.ExpectNoMoreThanAsync(20);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}").Order(), queue.Bodies.Order());
        Assert.Equal(0, transport.RecordOnlyWrites);
        Assert.True(engine.GetLinks()[0].DroppedMessages?.GetValueOrDefault("duplicate") > 0, "the unit's redeliveries should be dropped as duplicates");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task A_unit_the_downstream_committed_in_part_is_revoked_and_forwarded_again(int failedRevocations)
    {
        // The record of the unit is stored, its message is not (a full queue refused it). The revocation is written at
        // once, or, when that write fails too, by the next session before it consumes.
        PartlyCommittingLedgerTransport? transport = null;
        _bed.WrapTransport = inner => transport = new PartlyCommittingLedgerTransport(inner) { FailedRevocations = failedRevocations };
        var (engine, queue) = await _bed.StartSimpleLinkAsync(u => u.ReconnectDelaySeconds = 0.1);
        var publisher = await _bed.ConnectAsync("U");
        await PublishAllAsync(publisher, 20, WithId);

        await Testbed.Eventually(() => queue.Count == 20, () => $"{queue.Count} of 20; dropped: {string.Join(", ", engine.GetLinks()[0].DroppedMessages ?? new Dictionary<string, long>())}");
        Assert.True(transport!.PartlyCommitted);
        await queue.ExpectNoMoreThanAsync(20);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}").Order(), queue.Bodies.Order());
        Assert.Null(engine.GetLinks()[0].DroppedMessages);
        await Testbed.Eventually(() => _bed.Broker("U").GetMessageCount("/", "federation: upstream -> D:fed.downstream") == 0, () => "upstream queue not drained");
    }
}
