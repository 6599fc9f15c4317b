using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// <c>trust-user-id</c> with a downstream user that lacks RabbitMQ's <c>impersonator</c> tag. A user on the upstream
/// publishes with its own <c>user_id</c>, which the upstream accepts; the downstream refuses it from the link's user
/// (<c>406 PRECONDITION_FAILED - user_id property set to 'alice' but authenticated user was '...'</c>) by closing the
/// publishing channel. Treated as a failed publish, the link restarted, the upstream redelivered the message first, and it
/// failed again, for ever, holding every message behind it. Now that message is rejected upstream (its dead-letter exchange
/// keeps it), counted as <c>downstream_rejected</c> with a hint about the tag, and every other message arrives.
/// <para>
/// The downstream connection asks the broker before the first such message is written (AmqpImpersonationProbe), in every
/// ack mode and with duplicate suppression too. Learned from the broker's refusal on the link's channel instead, the writes
/// behind the refused message raced the broker's close of that channel; under load the client sometimes wrote one after it
/// had answered the close, and RabbitMQ closed the whole downstream connection over it (504 CHANNEL_ERROR - expected
/// 'channel.open'): every link restarted, what the refusal had taught was lost with the connection, and the next such
/// message closed the link's channel again and restarted the link (a CI run saw its Since move 0.9 s after the second one).
/// </para>
/// </summary>
[Collection(FederationNodesCollection.Name)]
public sealed class TrustUserIdWithoutImpersonatorScenarioTests(FederationNodesFixture nodes) : IAsyncLifetime
{
    private const int Messages = 30;
    private const int Claiming = 10;
    private const int LossStartedEvent = 1011;
    private const string Password = "pw-7c1e";
    private const int DownstreamConnectedEvent = 2001;
    private readonly ScenarioContext context = new();
    private readonly List<IAsyncDisposable> resources = [];
    private readonly List<(Testing.Brokers.RabbitMqNode Node, string[] Command)> cleanups = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await context.DisposeAsync();
        foreach (var resource in Enumerable.Reverse(resources))
        {
            await resource.DisposeAsync();
        }

        foreach (var (node, command) in cleanups)
        {
            await node.CtlAsync(CancellationToken.None, command);
        }
    }

    [Theory]
    [InlineData(true)]   // the ledger's transactional units
    [InlineData(false)]  // the confirming publisher
    public async Task A_message_whose_user_id_the_downstream_user_may_not_claim_is_rejected_upstream_and_the_messages_behind_it_arrive(bool duplicateSuppression)
    {
        var setup = await SetUpAsync(duplicateSuppression, deadLetters: true);
        await ScenarioContext.WaitForLinkAsync(setup.Engine, setup.Exchange, LinkState.Running);
        await ProbeAsync(setup);

        // The session that carries the probe is the one that must not restart (one run saw the link's start-up session
        // replaced before the probe went through).
        var running = await ScenarioContext.WaitForLinkAsync(setup.Engine, setup.Exchange, LinkState.Running);

        // Back to back, so that messages before and after the claiming one are in flight with it on the link's channel (or
        // in its unit), which the broker closes over it.
        for (var i = 0; i < Messages; i++)
        {
            await setup.Publisher.BasicPublishAsync(setup.Exchange, "key", true,
                new BasicProperties { MessageId = $"m{i}", UserId = i == Claiming ? setup.UpstreamUser : null }, Encoding.UTF8.GetBytes($"m{i}"));
        }

        string[] expected = [.. Enumerable.Range(0, Messages).Where(i => i != Claiming).Select(i => $"m{i}")];
        var arrived = await ArrivedAsync(setup, expected, "every message but the one claiming the upstream user should arrive downstream");

        // Rejected, not requeued, and never sent again: the upstream's dead-letter exchange keeps it as it was.
        var dead = await Poll.UntilAsync(() => setup.Upstream.BasicGetAsync(setup.DeadLettered!, autoAck: true), "the claiming message should be dead-lettered upstream");
        Assert.Equal($"m{Claiming}", dead.BasicProperties.MessageId);
        Assert.Equal(setup.UpstreamUser, dead.BasicProperties.UserId);
        await Poll.UntilAsync(async () => await setup.Upstream.MessageCountAsync(UpstreamQueue(setup.Exchange)) == 0 ? "" : null, "the upstream queue should be drained");
        var link = await ScenarioContext.WaitForLinkAsync(setup.Engine, setup.Exchange, LinkState.Running);
        Assert.Null(await setup.Upstream.BasicGetAsync(setup.DeadLettered!, autoAck: true));
        Assert.DoesNotContain($"m{Claiming}", arrived);
        Assert.Equal(1, link.DroppedMessages?.GetValueOrDefault("downstream_rejected"));

        // Refused before it was written (the probe said the user may not claim it), with or without duplicate suppression:
        // no channel of the link closed over it, so nothing else was lost or sent twice, everything is in order, and the link
        // never restarted.
        Assert.Equal(expected, arrived);
        Assert.Equal(running.Since, link.Since);

        // The warning that opens the loss episode says what the downstream user lacks.
        var warning = Assert.Single(setup.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("'impersonator' tag", StringComparison.Ordinal));
        Assert.Contains("downstream_rejected", warning.Message, StringComparison.Ordinal);
        Assert.Contains($"user_id '{setup.UpstreamUser}'", warning.Message, StringComparison.Ordinal);
        Assert.Contains("so it was not published", warning.Message, StringComparison.Ordinal); // refused before it was written
        Assert.DoesNotContain(setup.DownstreamUser, setup.Logs.Text, StringComparison.Ordinal);

        // Known now: more such messages, among others, are refused before they are written, and the link goes on as it is.
        // They are one loss episode, logged once (a warning each and an end line after each forwarded message flooded the
        // log); whether it is the first one's, still settling, or a new one depends on how long the checks above took.
        var since = link.Since;
        var warningsBefore = setup.Logs.Entries.Count(e => e.EventId.Id == LossStartedEvent);
        for (var i = 0; i < 3; i++)
        {
            await setup.Publisher.BasicPublishAsync(setup.Exchange, "key", true, new BasicProperties { MessageId = $"claiming-again{i}", UserId = setup.UpstreamUser }, Encoding.UTF8.GetBytes("again"));
            await setup.Publisher.BasicPublishAsync(setup.Exchange, "key", true, new BasicProperties { MessageId = $"after{i}" }, Encoding.UTF8.GetBytes("after"));
        }

        await ArrivedAsync(setup, ["after0", "after1", "after2"], "the messages after the later claiming ones should arrive");
        // Rejected one by one as they are refused, not necessarily in the order they came.
        var deadAgain = new List<string?>();
        for (var i = 0; i < 3; i++)
        {
            var again = await Poll.UntilAsync(() => setup.Upstream.BasicGetAsync(setup.DeadLettered!, autoAck: true), "the later claiming messages should be dead-lettered upstream");
            deadAgain.Add(again.BasicProperties.MessageId);
        }

        Assert.Equal(["claiming-again0", "claiming-again1", "claiming-again2"], deadAgain.Order(StringComparer.Ordinal));

        link = Assert.Single(setup.Engine.GetLinks());
        Assert.Equal(4, link.DroppedMessages?.GetValueOrDefault("downstream_rejected"));
        Assert.Equal(since, link.Since);
        Assert.Equal(LinkState.Running, link.State);
        Assert.InRange(setup.Logs.Entries.Count(e => e.EventId.Id == LossStartedEvent) - warningsBefore, 0, 1);

        // Neither refusal cost the downstream connection (which would restart every link and forget what was learned).
        Assert.Single(setup.Logs.Entries, e => e.EventId.Id == DownstreamConnectedEvent);
    }

    /// <summary>
    /// Without confirms (on-publish, no-ack) a publish completes once written, so the broker's refusal told nobody: the
    /// refused message and whatever was written behind it before the channel closed were lost uncounted, and the link
    /// restarted. Now the downstream connection asks the broker first whether its user may claim another user's user_id
    /// (AmqpImpersonationProbe), and such a message is refused before it is written: counted, and the rest arrives.
    /// </summary>
    [Theory]
    [InlineData(AckMode.OnPublish)]
    [InlineData(AckMode.NoAck)]
    public async Task Without_confirms_a_message_whose_user_id_the_downstream_user_may_not_claim_is_refused_before_it_is_written(AckMode ackMode)
    {
        var setup = await SetUpAsync(duplicateSuppression: false, deadLetters: ackMode == AckMode.OnPublish, ackMode: ackMode);
        await ScenarioContext.WaitForLinkAsync(setup.Engine, setup.Exchange, LinkState.Running);
        await ProbeAsync(setup);
        var running = await ScenarioContext.WaitForLinkAsync(setup.Engine, setup.Exchange, LinkState.Running);

        // Several claiming messages interleaved with others, which is what such traffic looks like.
        int[] claiming = [Claiming, Claiming + 2, Claiming + 4, Claiming + 6];
        for (var i = 0; i < Messages; i++)
        {
            await setup.Publisher.BasicPublishAsync(setup.Exchange, "key", true,
                new BasicProperties { MessageId = $"m{i}", UserId = claiming.Contains(i) ? setup.UpstreamUser : null }, Encoding.UTF8.GetBytes($"m{i}"));
        }

        // Nothing else lost, nothing twice, in order, and the link never restarted.
        string[] expected = [.. Enumerable.Range(0, Messages).Where(i => !claiming.Contains(i)).Select(i => $"m{i}")];
        var arrived = await ArrivedAsync(setup, expected, "every message but the ones claiming the upstream user should arrive downstream");
        Assert.Equal(expected, arrived);
        var link = await ScenarioContext.WaitForLinkAsync(setup.Engine, setup.Exchange, LinkState.Running);
        Assert.Equal(running.Since, link.Since);
        Assert.Equal(claiming.Length, link.DroppedMessages?.GetValueOrDefault("downstream_rejected"));
        Assert.Equal(0, link.DroppedMessages?.GetValueOrDefault("unconfirmed") ?? 0);
        if (ackMode == AckMode.OnPublish)
        {
            // Rejected, not requeued: the upstream's dead-letter exchange keeps them (a no-ack upstream has removed them already).
            var dead = new List<string?>();
            foreach (var _ in claiming)
            {
                var one = await Poll.UntilAsync(() => setup.Upstream.BasicGetAsync(setup.DeadLettered!, autoAck: true), "the claiming messages should be dead-lettered upstream");
                dead.Add(one.BasicProperties.MessageId);
            }

            Assert.Equal(claiming.Select(i => $"m{i}").Order(StringComparer.Ordinal), dead.Order(StringComparer.Ordinal));
        }

        // One loss episode, however the refusals and the forwards between them interleave: one warning, not one each.
        var warning = Assert.Single(setup.Logs.Entries, e => e.EventId.Id == LossStartedEvent);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("'impersonator' tag", warning.Message, StringComparison.Ordinal);
        Assert.Contains("downstream_rejected", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(setup.DownstreamUser, setup.Logs.Text, StringComparison.Ordinal);
    }

    /// <summary>The same probe with a downstream user that has the tag: the user_id crosses, and nothing is refused.</summary>
    [Fact]
    public async Task Without_confirms_and_with_the_impersonator_tag_the_user_id_crosses()
    {
        var setup = await SetUpAsync(duplicateSuppression: false, deadLetters: false, ackMode: AckMode.OnPublish, impersonator: true);
        await ScenarioContext.WaitForLinkAsync(setup.Engine, setup.Exchange, LinkState.Running);
        await ProbeAsync(setup);
        var running = await ScenarioContext.WaitForLinkAsync(setup.Engine, setup.Exchange, LinkState.Running);
        await setup.Publisher.BasicPublishAsync(setup.Exchange, "key", true, new BasicProperties { MessageId = "claiming", UserId = setup.UpstreamUser }, Encoding.UTF8.GetBytes("claiming"));
        await setup.Publisher.BasicPublishAsync(setup.Exchange, "key", true, new BasicProperties { MessageId = "after" }, Encoding.UTF8.GetBytes("after"));

        string[] both = ["claiming", "after"];
        Assert.Equal(both, await ArrivedAsync(setup, both, "both messages should arrive downstream"));
        var link = await ScenarioContext.WaitForLinkAsync(setup.Engine, setup.Exchange, LinkState.Running);
        Assert.Equal(running.Since, link.Since);
        Assert.Null(link.DroppedMessages);
    }

    [Fact]
    public async Task Once_the_downstream_user_has_the_impersonator_tag_and_its_connection_reopens_the_user_id_crosses()
    {
        var setup = await SetUpAsync(duplicateSuppression: true, deadLetters: false);
        await ScenarioContext.WaitForLinkAsync(setup.Engine, setup.Exchange, LinkState.Running);
        await ProbeAsync(setup);
        await setup.Publisher.BasicPublishAsync(setup.Exchange, "key", true, new BasicProperties { MessageId = "refused", UserId = setup.UpstreamUser }, Encoding.UTF8.GetBytes("refused"));
        await setup.Publisher.BasicPublishAsync(setup.Exchange, "key", true, new BasicProperties { MessageId = "before" }, Encoding.UTF8.GetBytes("before"));
        await ArrivedAsync(setup, ["before"], "the message after the refused one should arrive");
        Assert.Equal(1, Assert.Single(setup.Engine.GetLinks()).DroppedMessages?.GetValueOrDefault("downstream_rejected"));

        // RabbitMQ reads the tags when a connection opens: granted, they apply once the engine's downstream connection is
        // closed on the broker and the engine opens it again (no host restart).
        Assert.Equal(0, (await nodes.Downstream.CtlAsync(CancellationToken.None, "set_user_tags", setup.DownstreamUser, "administrator", "impersonator")).ExitCode);
        foreach (var pid in await ConnectionsOfAsync(nodes.Downstream, setup.DownstreamUser))
        {
            await nodes.Downstream.CtlAsync(CancellationToken.None, "close_connection", pid, "the test granted the impersonator tag");
        }

        // Until the link runs on the new connection such a message may still be refused: publish until one crosses.
        var attempt = 0;
        var crossed = await Poll.UntilAsync(async () =>
        {
            await setup.Publisher.BasicPublishAsync(setup.Exchange, "key", true, new BasicProperties { MessageId = $"granted{attempt++}", UserId = setup.UpstreamUser }, Encoding.UTF8.GetBytes("granted"));
            while (await setup.Downstream.BasicGetAsync(setup.Queue, autoAck: true) is { } got)
            {
                if (got.BasicProperties.MessageId?.StartsWith("granted", StringComparison.Ordinal) == true)
                {
                    return got;
                }
            }

            return null;
        }, "a message claiming the upstream user should cross once the downstream user may impersonate", TimeSpan.FromSeconds(60));
        Assert.Equal(setup.UpstreamUser, crossed.BasicProperties.UserId);
    }

    private sealed record Setup(
        FederationEngine Engine,
        string Exchange,
        IChannel Downstream,
        string Queue,
        IChannel Upstream,
        IChannel Publisher,
        string? DeadLettered,
        string UpstreamUser,
        string DownstreamUser,
        CapturedLogs Logs);

    /// <summary>
    /// A federated exchange whose link logs in downstream as a user of its own (administrator, not impersonator), with
    /// trust-user-id; a user of its own on the upstream to publish as; optionally a dead-letter exchange on the upstream queue.
    /// </summary>
    private async Task<Setup> SetUpAsync(bool duplicateSuppression, bool deadLetters, AckMode ackMode = AckMode.OnConfirm, bool impersonator = false)
    {
        var exchange = ScenarioContext.UniqueName("fed.userid");
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var upstreamUser = $"alice-{suffix}";
        var downstreamUser = $"fedlink-{suffix}";
        await AddUserAsync(nodes.Upstream, upstreamUser);
        await AddUserAsync(nodes.Downstream, downstreamUser, impersonator ? ["administrator", "impersonator"] : ["administrator"]);

        var downstream = await context.ChannelAsync(nodes.Downstream);
        var upstream = await context.ChannelAsync(nodes.Upstream);
        await context.DeclareExchangeAsync(nodes.Downstream, exchange);
        context.DeleteLater(nodes.Upstream, exchange);
        var queue = (await downstream.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
        await downstream.QueueBindAsync(queue, exchange, "#");

        string? deadLettered = null;
        if (deadLetters)
        {
            var deadLetterExchange = exchange + ".dlx";
            await upstream.ExchangeDeclareAsync(deadLetterExchange, ExchangeType.Fanout, durable: false, autoDelete: true);
            deadLettered = (await upstream.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
            await upstream.QueueBindAsync(deadLettered, deadLetterExchange, string.Empty);
            var policy = exchange + ".policy";
            var set = await nodes.Upstream.CtlAsync(CancellationToken.None, "set_policy", "--apply-to", "queues", policy,
                "^" + Regex.Escape(UpstreamQueue(exchange)) + "$", JsonSerializer.Serialize(new Dictionary<string, string> { ["dead-letter-exchange"] = deadLetterExchange }));
            Assert.True(set.ExitCode == 0, set.Output);
            cleanups.Add((nodes.Upstream, ["clear_policy", policy]));
        }

        var options = ScenarioContext.Options(nodes.Downstream, exchange, ("up", nodes.Upstream, u =>
        {
            u.TrustUserId = true;
            u.DuplicateSuppression = duplicateSuppression;
            u.AckMode = ackMode;
        }));
        options.Downstream.Uri = nodes.Downstream.AmqpUri(user: downstreamUser, password: Password);
        var logs = new CapturedLogs();
        var engine = await context.StartEngineAsync(options, loggerFactory: logs);

        var factory = new ConnectionFactory { Uri = new Uri(nodes.Upstream.AmqpUri(user: upstreamUser, password: Password)) };
        var connection = await factory.CreateConnectionAsync();
        resources.Add(connection);
        var publisher = await connection.CreateChannelAsync();
        resources.Add(publisher);
        return new Setup(engine, exchange, downstream, queue, upstream, publisher, deadLettered, upstreamUser, downstreamUser, logs);
    }

    private async Task AddUserAsync(Testing.Brokers.RabbitMqNode node, string user, params string[] tags)
    {
        Assert.Equal(0, (await node.CtlAsync(CancellationToken.None, "add_user", user, Password)).ExitCode);
        cleanups.Add((node, ["delete_user", user]));
        Assert.Equal(0, (await node.CtlAsync(CancellationToken.None, ["set_user_tags", user, .. tags])).ExitCode);
        Assert.Equal(0, (await node.CtlAsync(CancellationToken.None, "set_permissions", user, ".*", ".*", ".*")).ExitCode);
    }

    /// <summary>Until the binding has propagated upstream, publishes are dropped there: publish probes until one arrives.</summary>
    private static async Task ProbeAsync(Setup setup)
    {
        var attempt = 0;
        await Poll.UntilAsync(async () =>
        {
            await setup.Publisher.BasicPublishAsync(setup.Exchange, "probe", true, new BasicProperties { MessageId = $"probe{attempt++}" }, Encoding.UTF8.GetBytes("probe"));
            return await setup.Downstream.BasicGetAsync(setup.Queue, autoAck: true);
        }, "a probe published upstream should arrive downstream");
    }

    /// <summary>The message ids that arrive downstream (probes left out) until all of <paramref name="expected"/> have.</summary>
    private static Task<List<string>> ArrivedAsync(Setup setup, string[] expected, string because)
    {
        var arrived = new List<string>();
        return Poll.UntilAsync(async () =>
        {
            while (await setup.Downstream.BasicGetAsync(setup.Queue, autoAck: true) is { } got)
            {
                // A probe published while the binding propagated may still come in after the first one.
                if (got.BasicProperties.MessageId?.StartsWith("probe", StringComparison.Ordinal) != true)
                {
                    arrived.Add(got.BasicProperties.MessageId ?? "?");
                }
            }

            return expected.All(arrived.Contains) ? arrived : null;
        }, because, TimeSpan.FromSeconds(60));
    }

    private static async Task<List<string>> ConnectionsOfAsync(Testing.Brokers.RabbitMqNode node, string user)
    {
        var listed = await node.CtlAsync(CancellationToken.None, "list_connections", "pid", "user", "--silent");
        Assert.True(listed.ExitCode == 0, listed.Output);
        return [.. listed.Output.Split('\n').Select(l => l.Split('\t')).Where(f => f.Length > 1 && f[1].Trim() == user).Select(f => f[0].Trim())];
    }

    private string UpstreamQueue(string exchange) => $"federation: {exchange} -> {nodes.Downstream.ClusterName}";
}
