using Federation.Core.Links.Ownership;

namespace Federation.Core.Tests.Links.Ownership;

/// <summary>Who is live, and who is settled, from heartbeats alone.</summary>
public sealed class InstanceRosterTests
{
    private static readonly OwnershipTimings Timings = OwnershipTimings.Default;
    private readonly DateTimeOffset _t0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void An_instance_is_live_while_heard_within_the_live_time_and_gone_after()
    {
        var roster = new InstanceRoster(Timings);
        Assert.True(roster.Heard("b", "1", _t0));
        Assert.False(roster.Heard("b", "1", _t0 + TimeSpan.FromSeconds(1)));

        Assert.Equal(["b"], roster.Live(_t0 + TimeSpan.FromSeconds(4)));
        Assert.False(roster.Expire(_t0 + TimeSpan.FromSeconds(4)));
        Assert.Empty(roster.Live(_t0 + TimeSpan.FromSeconds(4.5)));
        Assert.True(roster.Expire(_t0 + TimeSpan.FromSeconds(4.5)));
    }

    [Fact]
    public void Settled_only_after_being_live_without_a_gap_so_a_flapping_heartbeat_never_settles()
    {
        var roster = new InstanceRoster(Timings);
        roster.Heard("b", "1", _t0);
        Assert.False(roster.IsSettled("b", _t0 + TimeSpan.FromSeconds(2)));
        roster.Heard("b", "1", _t0 + TimeSpan.FromSeconds(2));
        Assert.True(roster.IsSettled("b", _t0 + TimeSpan.FromSeconds(3)));

        // Silent for longer than the live time, then back: live again at once, settled again only later.
        Assert.True(roster.Heard("b", "1", _t0 + TimeSpan.FromSeconds(6)));
        Assert.False(roster.IsSettled("b", _t0 + TimeSpan.FromSeconds(7)));
        Assert.Equal(1, roster.UnsettledCount(_t0 + TimeSpan.FromSeconds(7)));
    }

    [Fact]
    public void A_restart_is_a_new_incarnation_and_a_leaving_instance_goes_at_once()
    {
        var roster = new InstanceRoster(Timings);
        roster.Heard("b", "1", _t0);
        Assert.True(roster.Heard("b", "2", _t0 + TimeSpan.FromSeconds(1)));
        Assert.Equal("2", roster.IncarnationOf("b"));

        Assert.False(roster.Left("b", "1"), "an old incarnation's goodbye does not remove the new one");
        Assert.True(roster.Left("b", "2"));
        Assert.Empty(roster.Live(_t0 + TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Presence_messages_round_trip_and_anything_else_is_ignored()
    {
        var message = new PresenceMessage(Leaving: true, "host a\nodd", "abc");
        Assert.Equal(message, PresenceMessage.Decode(message.Encode()));
        Assert.Null(PresenceMessage.Decode("hello"u8));
        Assert.Null(PresenceMessage.Decode([0xff, 0xfe]));
    }

    [Fact]
    public void The_links_an_instance_waits_for_travel_in_a_header_and_decide_what_it_is_handed()
    {
        var message = new PresenceMessage(Leaving: false, "b", "1", new HashSet<string>(["0badcafe", "12345678"]));
        var decoded = PresenceMessage.Decode(message.Encode(), message.Headers());
        Assert.Equal(["0badcafe", "12345678"], decoded!.Waiting!.Order(StringComparer.Ordinal));

        var roster = new InstanceRoster(Timings);
        roster.Heard("b", "1", _t0, decoded.Waiting);
        Assert.True(roster.Wants("b", "0badcafe"));
        Assert.False(roster.Wants("b", "ffffffff"));

        // The next heartbeat replaces the set; one that says nothing (an older instance) takes any link, as before.
        roster.Heard("b", "1", _t0 + TimeSpan.FromSeconds(1), new HashSet<string>());
        Assert.False(roster.Wants("b", "0badcafe"));
        var silent = PresenceMessage.Decode(message.Encode());
        roster.Heard("b", "1", _t0 + TimeSpan.FromSeconds(2), silent!.Waiting);
        Assert.True(roster.Wants("b", "ffffffff"));
        Assert.False(roster.Wants("nobody", "0badcafe"));
    }

    [Fact]
    public void An_instance_may_run_a_link_it_holds_or_waits_for_and_one_that_does_not_say_may_run_any()
    {
        var message = new PresenceMessage(Leaving: false, "b", "1", new HashSet<string>(["aaaaaaaa"]), new HashSet<string>(["bbbbbbbb"]));
        var decoded = PresenceMessage.Decode(message.Encode(), message.Headers())!;
        Assert.Equal(["bbbbbbbb"], decoded.Holding!);

        var roster = new InstanceRoster(Timings);
        roster.Heard("b", "1", _t0, decoded.Waiting, decoded.Holding);
        Assert.True(roster.MayRun("b", "aaaaaaaa"));
        Assert.True(roster.MayRun("b", "bbbbbbbb"));
        Assert.False(roster.MayRun("b", "cccccccc"), "another configuration's instance is not stood by for");

        roster.Heard("b", "1", _t0 + TimeSpan.FromSeconds(1));
        Assert.True(roster.MayRun("b", "cccccccc"));

        // Too many links to list in a frame: the heartbeat says nothing of them, as an older instance's would.
        var many = Enumerable.Range(0, PresenceMessage.MaxListedLinks + 1).Select(i => i.ToString("x8", System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
        Assert.Null(new PresenceMessage(Leaving: false, "b", "1", new HashSet<string>(), many).Headers());
        Assert.False(roster.MayRun("nobody", "aaaaaaaa"));
    }

    [Fact]
    public void Where_an_instance_keeps_its_leases_travels_in_a_header_also_when_its_links_do_not_fit()
    {
        var message = new PresenceMessage(Leaving: false, "b", "1", new HashSet<string>(), new HashSet<string>(["bbbbbbbb"]), "the JetStream key-value bucket 'x'");
        var decoded = PresenceMessage.Decode(message.Encode(), message.Headers())!;
        Assert.Equal("the JetStream key-value bucket 'x'", decoded.Leases);
        Assert.Null(PresenceMessage.Decode(message.Encode())!.Leases);

        var many = Enumerable.Range(0, PresenceMessage.MaxListedLinks + 1).Select(i => i.ToString("x8", System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
        var crowded = new PresenceMessage(Leaving: false, "b", "1", new HashSet<string>(), many, "here");
        var headers = crowded.Headers()!;
        Assert.Equal([PresenceMessage.LeasesHeader], headers.Keys);
        Assert.Equal([PresenceMessage.LeasesHeader], message.Headers(listLinks: false)!.Keys);
    }

    [Fact]
    public void The_holders_of_a_link_are_the_live_instances_whose_last_heartbeat_says_they_hold_it()
    {
        var roster = new InstanceRoster(Timings);
        roster.Heard("b", "1", _t0, new HashSet<string>(), new HashSet<string>(["aaaaaaaa"]));
        roster.Heard("c", "1", _t0, new HashSet<string>(["aaaaaaaa"]), new HashSet<string>());
        roster.Heard("d", "1", _t0);
        Assert.Equal(["b"], roster.HoldersOf("aaaaaaaa", _t0));
        Assert.Empty(roster.HoldersOf("bbbbbbbb", _t0));

        // A silent instance's last word no longer counts; nor does a heartbeat that stopped listing the link.
        Assert.Empty(roster.HoldersOf("aaaaaaaa", _t0 + Timings.LiveFor + TimeSpan.FromMilliseconds(1)));
        roster.Heard("b", "1", _t0 + TimeSpan.FromSeconds(1), new HashSet<string>(), new HashSet<string>());
        Assert.Empty(roster.HoldersOf("aaaaaaaa", _t0 + TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void A_link_an_instance_stands_by_for_counts_as_one_it_has_but_not_as_one_it_may_run()
    {
        var message = new PresenceMessage(Leaving: false, "b", "1", new HashSet<string>(["aaaaaaaa"]), new HashSet<string>(["bbbbbbbb"]), StandingBy: new HashSet<string>(["cccccccc"]));
        var decoded = PresenceMessage.Decode(message.Encode(), message.Headers())!;
        Assert.Equal(["cccccccc"], decoded.StandingBy!);

        var roster = new InstanceRoster(Timings);
        roster.Heard("b", "1", _t0, decoded.Waiting, decoded.Holding, decoded.StandingBy);

        // Standing by, it neither asks nor takes handovers, so placement must not wait for it; but it takes the link over
        // once the instance that runs it lets go, so that instance keeps the upstream queue when it drops the link.
        Assert.False(roster.MayRun("b", "cccccccc"));
        Assert.Equal(["b"], roster.HavingLink("aaaaaaaa", _t0));
        Assert.Equal(["b"], roster.HavingLink("bbbbbbbb", _t0));
        Assert.Equal(["b"], roster.HavingLink("cccccccc", _t0));
        Assert.Empty(roster.HavingLink("dddddddd", _t0));
        Assert.Empty(roster.HavingLink("cccccccc", _t0 + Timings.LiveFor + TimeSpan.FromSeconds(1)));

        // A heartbeat that does not say which links an instance has (an older version): it may have any.
        roster.Heard("c", "1", _t0);
        Assert.Equal(["b", "c"], roster.HavingLink("cccccccc", _t0));
    }

    [Fact]
    public void A_held_link_whose_runs_fail_is_said_to_fail_while_it_is_held_and_the_instance_is_live()
    {
        var message = new PresenceMessage(Leaving: false, "b", "1", new HashSet<string>(), new HashSet<string>(["aaaaaaaa", "bbbbbbbb"]), Failing: new HashSet<string>(["aaaaaaaa", "cccccccc"]));
        var headers = message.Headers()!;
        Assert.Equal("aaaaaaaa", headers[PresenceMessage.FailingHeader]); // only held links can fail there
        var decoded = PresenceMessage.Decode(message.Encode(), headers)!;

        var roster = new InstanceRoster(Timings);
        roster.Heard("b", "1", _t0, decoded.Waiting, decoded.Holding, decoded.StandingBy, decoded.Failing);
        Assert.True(roster.Fails("b", "aaaaaaaa", _t0));
        Assert.False(roster.Fails("b", "bbbbbbbb", _t0));
        Assert.False(roster.Fails("b", "aaaaaaaa", _t0 + Timings.LiveFor + TimeSpan.FromSeconds(1)));

        // An instance that does not say (an older version, or nothing fails) fails nothing.
        roster.Heard("b", "1", _t0 + TimeSpan.FromSeconds(1), decoded.Waiting, decoded.Holding);
        Assert.False(roster.Fails("b", "aaaaaaaa", _t0 + TimeSpan.FromSeconds(1)));
        Assert.Null(PresenceMessage.Decode(message.Encode(), new PresenceMessage(Leaving: false, "b", "1", new HashSet<string>(), new HashSet<string>()).Headers())!.Failing);
    }

    [Fact]
    public void A_link_is_had_from_a_broker_only_by_instances_whose_upstream_of_that_name_reaches_it()
    {
        var fingerprints = UpstreamFingerprints.Of([("u", ["amqp://user:secret@old-host/vh"]), ("v", ["amqp://other"])]);
        var message = new PresenceMessage(Leaving: false, "b", "1", new HashSet<string>(), new HashSet<string>(["aaaaaaaa"]), Upstreams: fingerprints);
        var header = (string)message.Headers()![PresenceMessage.UpstreamsHeader]!;
        Assert.DoesNotContain("old-host", header, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", header, StringComparison.Ordinal);
        var decoded = PresenceMessage.Decode(message.Encode(), message.Headers())!;

        var roster = new InstanceRoster(Timings);
        roster.Heard("b", "1", _t0, decoded.Waiting, decoded.Holding, decoded.StandingBy, decoded.Failing, decoded.Upstreams);
        roster.Heard("c", "1", _t0, new HashSet<string>(), new HashSet<string>(["aaaaaaaa"])); // does not say: may have it from anywhere
        var u = UpstreamFingerprints.Name("u");

        // Credentials and query do not make another broker; another host does.
        Assert.Equal(["b", "c"], roster.HavingLinkFrom("aaaaaaaa", u, UpstreamFingerprints.Brokers(["amqp://old-host/vh?heartbeat=5"]), _t0));
        Assert.Equal(["c"], roster.HavingLinkFrom("aaaaaaaa", u, UpstreamFingerprints.Brokers(["amqp://new-host/vh"]), _t0));
        Assert.Equal(["c"], roster.HavingLinkFrom("aaaaaaaa", u, UpstreamFingerprints.Brokers(["amqp://old-host/other-vh"]), _t0));
        Assert.Empty(roster.HavingLinkFrom("bbbbbbbb", u, UpstreamFingerprints.Brokers(["amqp://old-host/vh"]), _t0));
    }

    [Fact]
    public void A_link_is_had_from_a_kind_of_queue_on_a_broker_only_by_instances_that_use_that_kind_there_or_do_not_say_which_they_use()
    {
        // NATS: jetstream=true switched off on one instance. Its old durable consumer is of no use to it any more.
        static string? KindOf(string uri) => uri.Contains("jetstream=true", StringComparison.Ordinal) ? "jetstream" : "core";
        var (jetStream, core) = ("nats://host:4222?jetstream=true", "nats://user:secret@host:4222");
        var roster = new InstanceRoster(Timings);
        void Heard(string instance, IReadOnlyDictionary<string, IReadOnlySet<string>> upstreams)
        {
            var message = new PresenceMessage(Leaving: false, instance, "1", new HashSet<string>(), new HashSet<string>(["aaaaaaaa"]), Upstreams: upstreams);
            var decoded = PresenceMessage.Decode(message.Encode(), message.Headers())!;
            roster.Heard(instance, "1", _t0, decoded.Waiting, decoded.Holding, decoded.StandingBy, decoded.Failing, decoded.Upstreams);
        }

        Heard("switched", UpstreamFingerprints.Of([("u", [core])], KindOf));
        Heard("same", UpstreamFingerprints.Of([("u", [jetStream])], KindOf));
        Heard("older", UpstreamFingerprints.Of([("u", [jetStream])])); // a version before kinds: its heartbeats say none
        var u = UpstreamFingerprints.Name("u");

        // The JetStream consumer is kept for the instance that still runs from it and for the one that does not say.
        Assert.Equal(["older", "same"], roster.HavingLinkFrom("aaaaaaaa", u, UpstreamFingerprints.Brokers([jetStream], KindOf), _t0));
        Assert.Equal(["older", "switched"], roster.HavingLinkFrom("aaaaaaaa", u, UpstreamFingerprints.Brokers([core], KindOf), _t0));

        // An instance that cannot tell kinds (an older version, which compares broker hashes alone, or a transport with one
        // kind) finds every instance that reaches the broker, so none deletes a queue that a newer one still consumes.
        Assert.Equal(["older", "same", "switched"], roster.HavingLinkFrom("aaaaaaaa", u, UpstreamFingerprints.Brokers([jetStream]), _t0));
        Assert.True(UpstreamFingerprints.Of([("u", [core])], KindOf)[u].Overlaps(UpstreamFingerprints.Brokers([jetStream])));
        Assert.Empty(roster.HavingLinkFrom("aaaaaaaa", u, UpstreamFingerprints.Brokers(["nats://other-host:4222?jetstream=true"], KindOf), _t0)); // a kind counts on its broker only
    }

    [Theory]
    [InlineData("amqp://user:secret@localhost/vh", "amqp\nlocalhost\n\nvh")]
    [InlineData("amqp://user:secret@old-host:5672/vh", "amqp\nold-host\n5672\nvh")]
    [InlineData("nats://[::1]:4222", "nats\n::1\n4222\n/")]
    public void Instances_of_versions_before_6_Dec_2026_and_after_find_each_other_by_a_uri_they_read_differently(string uri, string asAnOlderVersionReadsIt)
    {
        // An older version hashes the host and port as written; a newer one reads localhost as 127.0.0.1 and drops a port
        // that is the scheme's own. Had each looked only for its own hash, each would have taken the other, with the very
        // same URI, for an instance that no longer reaches the broker, and deleted the queue the other consumed.
        var olderHeartbeat = new Dictionary<string, IReadOnlySet<string>> { [UpstreamFingerprints.Name("u")] = new HashSet<string>([UpstreamFingerprints.Hash("broker\n" + asAnOlderVersionReadsIt)]) };
        var roster = new InstanceRoster(Timings);
        roster.Heard("older", "1", _t0, new HashSet<string>(), new HashSet<string>(["aaaaaaaa"]), upstreams: olderHeartbeat);

        Assert.Equal(["older"], roster.HavingLinkFrom("aaaaaaaa", UpstreamFingerprints.Name("u"), UpstreamFingerprints.Brokers([uri]), _t0));
        var newerHeartbeat = UpstreamFingerprints.Of([("u", [uri])], _ => "kind A")[UpstreamFingerprints.Name("u")];
        Assert.True(UpstreamFingerprints.Reaches(newerHeartbeat, olderHeartbeat[UpstreamFingerprints.Name("u")]), "an older instance does not find the newer one");
    }
}
