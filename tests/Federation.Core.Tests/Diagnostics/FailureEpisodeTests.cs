using Federation.Core.Diagnostics;

namespace Federation.Core.Tests.Diagnostics;

/// <summary>
/// A failure episode is logged a few times, not once per attempt; a failure with another cause right after an announced
/// recovery is a new problem, warned of at once (a black-box run saw a message that failed the link at every attempt
/// after a recovery stay at debug until the summary at the tenth attempt, minutes later).
/// </summary>
public sealed class FailureEpisodeTests
{
    [Fact]
    public void An_episode_warns_once_sums_up_at_the_tenth_attempt_and_announces_its_recovery_once()
    {
        var episode = new FailureEpisode();

        Assert.Equal(FailureLogStep.Started, episode.Fail("refused"));
        for (var attempt = 2; attempt < FailureEpisode.SummaryAtAttempt; attempt++)
        {
            Assert.Equal(FailureLogStep.Quiet, episode.Fail("refused"));
        }

        Assert.Equal(FailureLogStep.Summary, episode.Fail("refused"));
        Assert.Equal(FailureEpisode.SummaryAtAttempt, episode.Up());
        Assert.Equal(0, episode.Up());
    }

    [Fact]
    public void The_same_cause_right_after_a_recovery_is_the_same_episode()
    {
        var episode = new FailureEpisode();
        episode.Fail("refused");
        episode.Up();

        Assert.Equal(FailureLogStep.Quiet, episode.Fail("refused"));
        Assert.Equal(2, episode.Failures);
    }

    [Fact]
    public void Another_cause_right_after_a_recovery_starts_a_new_episode_with_its_own_warning_and_recovery()
    {
        var episode = new FailureEpisode();
        episode.Fail("ConnectionLostException: refused");
        episode.Up();

        Assert.Equal(FailureLogStep.Started, episode.Fail("ArgumentException: the output byte buffer is too small"));
        Assert.Equal(1, episode.Failures);
        Assert.Equal(FailureLogStep.Quiet, episode.Fail("ArgumentException: the output byte buffer is too small"));
        Assert.Equal(2, episode.Up());
    }

    [Fact]
    public void Another_cause_within_an_episode_before_any_recovery_stays_quiet()
    {
        var episode = new FailureEpisode();
        episode.Fail("timeout");

        Assert.Equal(FailureLogStep.Quiet, episode.Fail("refused"));
        Assert.Equal(FailureLogStep.Quiet, episode.Fail());
    }

    [Fact]
    public void A_thing_that_comes_up_and_fails_again_and_again_with_alternating_causes_warns_twice_and_still_adds_up_its_failures()
    {
        // Two URIs rotated over: one refuses the connection, the other connects and then fails on a message, every time.
        var episode = new FailureEpisode();
        var warnings = 0;
        var recoveries = 0;
        var summaries = 0;
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var step = episode.Fail(attempt % 2 == 0 ? "ConnectionLostException: refused" : "ArgumentException: the output byte buffer is too small");
            warnings += step == FailureLogStep.Started ? 1 : 0;
            summaries += step == FailureLogStep.Summary ? 1 : 0;
            if (attempt % 2 == 0)
            {
                recoveries += episode.Up() > 0 ? 1 : 0; // the next URI connects, and the link runs for a moment
            }
        }

        // The first failure, and the other cause right after the first recovery: then the same episode, summed up once.
        Assert.Equal(2, warnings);
        Assert.Equal(2, recoveries);
        Assert.Equal(1, summaries);
        Assert.Equal(19, episode.Failures);
    }

    [Fact]
    public void Once_ended_a_failure_with_another_cause_after_a_recovery_starts_a_new_episode_again()
    {
        var episode = new FailureEpisode();
        episode.Fail("a");
        episode.Up();
        Assert.Equal(FailureLogStep.Started, episode.Fail("b"));
        episode.End(); // a run that stayed up

        episode.Fail("c");
        episode.Up();
        Assert.Equal(FailureLogStep.Started, episode.Fail("d"));
    }
}
