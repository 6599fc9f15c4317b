using Federation.Core.Links;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Links;

/// <summary>
/// Refusals (nacks) by the downstream: one warning (1005) per episode, the rest at debug (1020), and one line with the
/// count when it ends: once the link has forwarded for the settle period without a refusal (1021), or when it stops (1033).
/// </summary>
public sealed class LinkNacksTests : IDisposable
{
    private static readonly TimeSpan Settle = LossEpisode.SettlePeriod;
    private readonly CapturingLoggerProvider _logs = new();
    private readonly FakeTimeProvider _time = new();
    private readonly LinkNacks _nacks;

    public LinkNacksTests() => _nacks = new LinkNacks("abcd1234", _logs.CreateLogger("t"), _time);

    public void Dispose() => _logs.Dispose();

    [Fact]
    public void Refusals_interleaved_with_forwards_are_one_episode_logged_once_with_its_total()
    {
        // A queue at its limit with reject-publish whose consumer frees room now and then: a few in, the rest refused.
        for (var i = 0; i < 20; i++)
        {
            _nacks.Nacked(new PublishNackedException("406 PRECONDITION_FAILED - queue at its limit"));
            _time.Advance(TimeSpan.FromSeconds(2));
            _nacks.Forwarded();
        }

        var warning = Assert.Single(_logs.WithId(1005));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal(19, _logs.WithId(1020).Count);
        Assert.All(_logs.WithId(1020), e => Assert.Equal(LogLevel.Debug, e.Level));
        Assert.Empty(_logs.WithId(1021));

        _time.Advance(Settle);
        var end = Assert.Single(_logs.WithId(1021));
        Assert.Contains("20 message(s) were refused", end.Message, StringComparison.Ordinal);

        // After the settle period, the next refusal is a new episode.
        _nacks.PartlyCommitted(3, "fed.x", "u", new UnitPartlyCommittedException("partial tx completion"));
        Assert.Single(_logs.WithId(1029));
        _nacks.Stopped();
        Assert.Contains("3 message(s) were refused", Assert.Single(_logs.WithId(1033)).Message, StringComparison.Ordinal);
        Assert.Single(_logs.WithId(1021));
    }
}
