using System.Collections.Concurrent;
using System.Text;
using Federation.Core.InMemory.Subjects;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;

namespace Federation.Core.Tests.Collectives;

/// <summary>The in-memory subject bus follows core NATS semantics.</summary>
public sealed class InMemorySubjectBusTests
{
    private static SubjectMessage Message(string subject, string body = "x") => new(subject, Encoding.UTF8.GetBytes(body));

    private static (ConcurrentQueue<SubjectMessage> Queue, SubjectMessageHandler Handler) Recorder()
    {
        var queue = new ConcurrentQueue<SubjectMessage>();
        return (queue, (m, _) => { queue.Enqueue(m); return ValueTask.CompletedTask; });
    }

    [Theory]
    [InlineData("a.b.c", "a.b.c", true, "a.b.c")]
    [InlineData("a.*.c", "a.b.c", true, "a.z.c")]
    [InlineData("a.*", "a.b.c", false, "a.z")]
    [InlineData("a.>", "a.b.c", true, "a.z")]
    [InlineData("a.>", "a", false, "a.z")]
    [InlineData(">", "a", true, "z")]
    [InlineData("a.b", "a.b.c", false, "a.b")]
    [InlineData("a.b.c", "a.b", false, "a.b.c")]
    [InlineData("*.*.c", "a.b.c", true, "x.y.c")]
    public async Task Wildcards_match_as_in_nats(string pattern, string subject, bool delivered, string sentinel)
    {
        await using var testbed = new CollectivesTestbed();
        var connection = await testbed.ConnectAsync("bus");
        var (received, handler) = Recorder();
        await connection.SubscribeAsync(pattern, null, handler, CancellationToken.None);

        await connection.PublishAsync(Message(subject, "probe"), CancellationToken.None);
        await connection.PublishAsync(Message(sentinel, "sentinel"), CancellationToken.None);

        // One subscription sees its messages in order: once the sentinel is in, the probe would be too.
        await CollectivesTestbed.WaitUntilAsync(() => received.Any(m => CollectivesTestbed.Text(m) == "sentinel"), "the sentinel arrived");
        var expected = delivered ? new[] { "probe", "sentinel" } : ["sentinel"];
        Assert.Equal(expected, received.Select(CollectivesTestbed.Text));
    }

    [Fact]
    public async Task Queue_group_members_share_messages_and_plain_subscribers_get_all()
    {
        await using var testbed = new CollectivesTestbed();
        var connection = await testbed.ConnectAsync("bus");
        var members = Enumerable.Range(0, 3).Select(_ => Recorder()).ToList();
        foreach (var member in members)
        {
            await connection.SubscribeAsync("work.items", "workers", member.Handler, CancellationToken.None);
        }

        var (plain, plainHandler) = Recorder();
        await connection.SubscribeAsync("work.*", null, plainHandler, CancellationToken.None);

        for (var i = 0; i < 30; i++)
        {
            await connection.PublishAsync(Message("work.items", i.ToString(System.Globalization.CultureInfo.InvariantCulture)), CancellationToken.None);
        }

        await CollectivesTestbed.WaitUntilAsync(() => plain.Count == 30 && members.Sum(m => m.Queue.Count) == 30, "all delivered");
        Assert.All(members, m => Assert.Equal(10, m.Queue.Count)); // round-robin
        var bodies = members.SelectMany(m => m.Queue).Select(CollectivesTestbed.Text).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 30).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).Order(), bodies);
    }

    [Fact]
    public async Task Headers_reply_subject_and_body_pass_through_and_the_body_is_copied()
    {
        await using var testbed = new CollectivesTestbed();
        var connection = await testbed.ConnectAsync("bus");
        var (received, handler) = Recorder();
        await connection.SubscribeAsync("h.test", null, handler, CancellationToken.None);
        var buffer = new byte[] { 1, 2, 3 };
        var headers = new List<KeyValuePair<string, string>> { new("A", "1"), new("B", "2"), new("A", "3") };

        await connection.PublishAsync(new SubjectMessage("h.test", buffer, headers, "reply.here"), CancellationToken.None);
        buffer[0] = 9; // the publisher reuses its buffer

        await CollectivesTestbed.WaitUntilAsync(() => received.Count == 1, "delivered");
        var message = Assert.Single(received);
        Assert.Equal(new byte[] { 1, 2, 3 }, message.Body.ToArray());
        Assert.Equal(headers, message.Headers);
        Assert.Equal("reply.here", message.ReplyTo);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a..b")]
    [InlineData("a.b.")]
    [InlineData("a b")]
    [InlineData("a.>.b")]
    [InlineData("a.b*")]
    public async Task Invalid_subscription_subjects_are_rejected_naming_them(string subject)
    {
        await using var testbed = new CollectivesTestbed();
        var connection = await testbed.ConnectAsync("bus");
        var error = await Assert.ThrowsAsync<ArgumentException>(async () => await connection.SubscribeAsync(subject, null, Recorder().Handler, CancellationToken.None));
        Assert.Contains($"'{subject}'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a.*")]
    [InlineData("a.>")]
    [InlineData("a..b")]
    public async Task Publish_subjects_must_not_have_wildcards_or_empty_tokens(string subject)
    {
        await using var testbed = new CollectivesTestbed();
        var connection = await testbed.ConnectAsync("bus");
        var error = await Assert.ThrowsAsync<ArgumentException>(async () => await connection.PublishAsync(Message(subject), CancellationToken.None));
        Assert.Contains($"'{subject}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stopped_server_faults_connections_and_refuses_new_ones_until_started()
    {
        await using var testbed = new CollectivesTestbed();
        var connection = await testbed.ConnectAsync("bus");
        var server = testbed.Registry.GetOrAdd("bus");

        server.Stop("maintenance");

        var lost = await Assert.ThrowsAsync<ConnectionLostException>(() => connection.Completion);
        Assert.Contains("maintenance", lost.Message, StringComparison.Ordinal);
        Assert.Null(connection.ConnectedServer);
        await Assert.ThrowsAsync<ConnectionLostException>(async () => await connection.PublishAsync(Message("a"), CancellationToken.None));
        await Assert.ThrowsAsync<BrokerUnreachableException>(() => testbed.ConnectAsync("bus"));

        server.Start();
        var again = await testbed.ConnectAsync("bus");
        Assert.Equal("memory://bus", again.ConnectedServer);
    }

    [Fact]
    public async Task A_throwing_handler_is_counted_and_delivery_goes_on()
    {
        await using var testbed = new CollectivesTestbed();
        var connection = await testbed.ConnectAsync("bus");
        var calls = 0;
        await connection.SubscribeAsync("boom", null, (_, _) => Interlocked.Increment(ref calls) == 1 ? throw new InvalidOperationException("first") : ValueTask.CompletedTask, CancellationToken.None);

        await connection.PublishAsync(Message("boom"), CancellationToken.None);
        await connection.PublishAsync(Message("boom"), CancellationToken.None);

        await CollectivesTestbed.WaitUntilAsync(() => Volatile.Read(ref calls) == 2, "both handled");
        Assert.Equal(1, testbed.Registry.GetOrAdd("bus").HandlerFailures);
    }

    [Fact]
    public async Task Disposed_subscription_gets_nothing_more()
    {
        await using var testbed = new CollectivesTestbed();
        var connection = await testbed.ConnectAsync("bus");
        var (first, handler) = Recorder();
        var (marker, markerHandler) = Recorder();
        var subscription = await connection.SubscribeAsync("s", null, handler, CancellationToken.None);
        await connection.SubscribeAsync("s", null, markerHandler, CancellationToken.None);

        await subscription.DisposeAsync();
        await connection.PublishAsync(Message("s"), CancellationToken.None);

        await CollectivesTestbed.WaitUntilAsync(() => marker.Count == 1, "marker delivered");
        Assert.Empty(first);
    }
}
