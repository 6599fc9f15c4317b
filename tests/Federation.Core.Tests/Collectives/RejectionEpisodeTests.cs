using System.Text;
using Federation.Core.Collectives;
using Federation.Core.Tests.Support;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// Hostile or broken messages sent at a broker instance are dropped and counted; black-box run of 7 Dec 2026: 1,840 of
/// them (bad JSON, forged targets, reply subjects outside the reply space, a 30,000-hop trail) were counted and logged at
/// Debug only, so a host at the default level said nothing. Now the first of an episode is a warning naming it, and the
/// episode's end (60 s without one) says how many there were.
/// </summary>
public sealed class RejectionEpisodeTests
{
    [Fact]
    public async Task Rejected_messages_are_warned_about_once_per_episode_and_the_end_counts_them()
    {
        using var logs = new CapturingLoggerProvider();
        using var factory = logs.AsFactory();
        var time = new FakeTimeProvider();
        using var harness = new RelayHarness(logger: factory.CreateLogger("relay"), time: time);

        for (var i = 0; i < 3; i++)
        {
            await harness.RequestAsync(new SubjectMessage(harness.Subjects.Federation, Encoding.UTF8.GetBytes("x"), [new(FederationHeaders.RequestId, $"r{i}")]));
        }

        await harness.RequestAsync(Forged(harness, "choria.federation.elsewhere.federation"));

        Assert.Equal(4, harness.Statistics.Errors);
        var warning = Assert.Single(logs.WithId(4020));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("(malformed)", warning.Message, StringComparison.Ordinal);
        Assert.Empty(logs.WithId(4021));

        // Quiet for less than the period after the last one: the episode goes on; past it, it ends with the count.
        time.Advance(RejectionEpisode.QuietPeriod - TimeSpan.FromSeconds(1));
        await harness.RequestAsync(Forged(harness, "a.b.*"));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Empty(logs.WithId(4021));
        time.Advance(RejectionEpisode.QuietPeriod);

        var end = Assert.Single(logs.WithId(4021));
        Assert.Contains("5 message(s) were rejected", end.Message, StringComparison.Ordinal);

        // A later rejection opens a new episode, warned about again.
        await harness.RequestAsync(Forged(harness, "a.b.*"));
        Assert.Equal(2, logs.WithId(4020).Count);
        Assert.Contains("(target_rejected)", logs.WithId(4020)[1].Message, StringComparison.Ordinal);
    }

    private static SubjectMessage Forged(RelayHarness harness, string target) =>
        new(harness.Subjects.Federation, Encoding.UTF8.GetBytes("x"),
            [new(FederationHeaders.RequestId, "r"), new(FederationHeaders.ReplyTo, "client.reply.r"), new(FederationHeaders.Target, target)]);
}
