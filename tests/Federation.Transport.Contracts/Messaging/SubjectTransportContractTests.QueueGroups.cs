using System.Globalization;
using Xunit;

namespace Federation.Transport.Contracts.Messaging;

public abstract partial class SubjectTransportContractTests
{
    [Fact]
    public async Task QueueGroup_DeliversEachMessageToExactlyOneMember_AndEveryMemberGetsSome()
    {
        const int Count = 300;
        var subject = UniqueSubject("queue");
        var members = new List<SubjectRecorder>();
        var memberConnections = new List<Core.Transport.Messaging.ISubjectConnection>();
        for (var i = 0; i < 3; i++)
        {
            var connection = await OpenAsync($"member-{i}");
            memberConnections.Add(connection);
            members.Add(await SubjectRecorder.StartAsync(connection, subject, "workers", Ct));
        }

        var publisher = await OpenAsync();
        for (var i = 0; i < Count; i++)
        {
            await PublishAsync(publisher, subject, i.ToString(CultureInfo.InvariantCulture));
        }

        await Eventually.TrueAsync(() => members.Sum(m => m.Count) >= Count, Patience, "every message should reach one member");

        // Whatever the server still had for the members has been handed over once these round trips complete.
        await publisher.FlushAsync(Ct);
        foreach (var connection in memberConnections)
        {
            await connection.FlushAsync(Ct);
        }

        var received = members.SelectMany(m => m.Bodies).ToList();
        Assert.Equal(Count, received.Count);
        Assert.Equal(Enumerable.Range(0, Count).Select(i => i.ToString(CultureInfo.InvariantCulture)).Order(), received.Order());
        Assert.All(members, m => Assert.True(m.Count > 0, $"each member should get some of the {Count} messages; got {string.Join("/", members.Select(x => x.Count))}"));
        Assert.All(members, m => Assert.Equal("workers", m.Subscription.QueueGroup));
    }

    [Fact]
    public async Task PlainSubscriptions_AlongsideAQueueGroup_EachGetEveryMessage_InOrder()
    {
        const int Count = 100;
        var subject = UniqueSubject("mixed");
        var queue = new List<SubjectRecorder>();
        var plain = new List<SubjectRecorder>();
        for (var i = 0; i < 2; i++)
        {
            queue.Add(await SubjectRecorder.StartAsync(await OpenAsync(), subject, "workers", Ct));
            plain.Add(await SubjectRecorder.StartAsync(await OpenAsync(), subject, null, Ct));
        }

        var publisher = await OpenAsync();
        for (var i = 0; i < Count; i++)
        {
            await PublishAsync(publisher, subject, i.ToString(CultureInfo.InvariantCulture));
        }

        var expected = Enumerable.Range(0, Count).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToList();
        await Eventually.TrueAsync(() => plain.All(p => p.Count >= Count) && queue.Sum(q => q.Count) >= Count, Patience);
        Assert.All(plain, p => Assert.Equal(expected, p.Bodies));
        Assert.Equal(expected.Order(), queue.SelectMany(q => q.Bodies).Order());
        Assert.All(plain, p => Assert.Null(p.Subscription.QueueGroup));
    }

    [Fact]
    public async Task TwoQueueGroups_OnOneSubject_EachGetEveryMessageOnce()
    {
        const int Count = 100;
        var subject = UniqueSubject("groups");
        var first = new List<SubjectRecorder>();
        var second = new List<SubjectRecorder>();
        for (var i = 0; i < 2; i++)
        {
            first.Add(await SubjectRecorder.StartAsync(await OpenAsync(), subject, "london_collective", Ct));
            second.Add(await SubjectRecorder.StartAsync(await OpenAsync(), subject, "tokyo_collective", Ct));
        }

        var publisher = await OpenAsync();
        for (var i = 0; i < Count; i++)
        {
            await PublishAsync(publisher, subject, i.ToString(CultureInfo.InvariantCulture));
        }

        var expected = Enumerable.Range(0, Count).Select(i => i.ToString(CultureInfo.InvariantCulture)).Order().ToList();
        await Eventually.TrueAsync(() => first.Sum(q => q.Count) >= Count && second.Sum(q => q.Count) >= Count, Patience);
        Assert.Equal(expected, first.SelectMany(q => q.Bodies).Order());
        Assert.Equal(expected, second.SelectMany(q => q.Bodies).Order());
    }
}
