using System.Diagnostics;
using Federation.Core.Transport;
using Federation.Nats.Leases;
using Federation.Nats.Tests.Security;
using Federation.Nats.Tests.Transport;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;

namespace Federation.Nats.Tests.Leases;

/// <summary>
/// Link leases of the NATS transport (<see cref="NatsKvLeases"/>) against a real nats-server 2.9 with JetStream: each
/// test names its own bucket, so the tests share one server.
/// </summary>
public sealed class NatsKvLeaseTests(NatsJetStreamServerFixture fixture) : IClassFixture<NatsJetStreamServerFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);
    private readonly List<IBrokerConnection> _connections = [];
    private readonly string _bucket = $"leases-{Guid.NewGuid():N}";
    private readonly NatsTransport _transport = new();
    private readonly List<NatsConnection> _raw = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }

        foreach (var raw in _raw)
        {
            await raw.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_lease_is_held_once_the_refused_asker_learns_who_holds_it_and_takes_it_when_released()
    {
        var a = await ConnectAsync();
        var b = await ConnectAsync();

        var held = await a.Leases!.TryAcquireAsync(new LeaseRequest("federation: lease DOWN orders -> up", "host-a"), default);
        Assert.True(held.Acquired);
        Assert.Equal("host-a", held.Lease!.Holder);

        var refused = await b.Leases!.TryAcquireAsync(new LeaseRequest("federation: lease DOWN orders -> up", "host-b"), default);
        Assert.False(refused.Acquired);
        Assert.Equal("host-a", refused.Holder);
        Assert.True((await b.Leases.TryAcquireAsync(new LeaseRequest("federation: lease DOWN orders -> other", "host-b"), default)).Acquired, "another link's lease is another key");

        await held.Lease.DisposeAsync();
        Assert.True(held.Lease.Lost.IsCompleted);
        var taken = await b.Leases.TryAcquireAsync(new LeaseRequest("federation: lease DOWN orders -> up", "host-b"), default);
        Assert.True(taken.Acquired, "a released lease is free at once");
        Assert.Equal("host-b", taken.Holder);
    }

    [Fact]
    public async Task Renewals_keep_the_lease_for_many_times_its_time_to_live()
    {
        // 3 s rather than the shortest allowed: a renewal goes every second and the lease is given up 2.4 s after the last
        // one got through, so a renewal slowed down by a loaded machine (CI runs other suites beside this one) still does.
        var a = await ConnectAsync(ttlMs: 3000);
        var b = await ConnectAsync(ttlMs: 3000);
        var lease = (await a.Leases!.TryAcquireAsync(new LeaseRequest("kept", "host-a"), default)).Lease!;
        var key = NatsLeaseKeys.KeyFor("kept");
        await using var raw = await RawAsync();
        var store = await new NatsKVContext(new NatsJSContext(raw)).GetStoreAsync(_bucket);
        var first = (await store.GetEntryAsync<byte[]>(key)).Revision;

        // Three times the time-to-live, counted in the server's own revisions: each renewal (every third of it) writes one.
        var deadline = Stopwatch.StartNew();
        var revision = first;
        while (revision - first < 9)
        {
            Assert.True(deadline.Elapsed < 2 * Patience, $"only {revision - first} renewals in {deadline.Elapsed}");
            Assert.False(lease.Lost.IsCompleted, $"lost after {revision - first} renewals");
            Assert.False((await b.Leases!.TryAcquireAsync(new LeaseRequest("kept", "host-b"), default)).Acquired, $"taken by b after {revision - first} renewals");
            await Task.Delay(TimeSpan.FromMilliseconds(100)); // poll interval, bounded by the deadline
            revision = (await store.GetEntryAsync<byte[]>(key)).Revision;
        }

        Assert.Equal("host-a", NatsLeaseRecord.FromBytes((await store.GetEntryAsync<byte[]>(key)).Value)!.Holder);
    }

    [Fact]
    public async Task A_holder_whose_connection_died_without_releasing_loses_the_lease_and_another_takes_it_over_at_once()
    {
        var a = await ConnectAsync();
        var b = await ConnectAsync();
        var lease = (await a.Leases!.TryAcquireAsync(new LeaseRequest("dead-holder", "host-a"), default)).Lease!;

        // The socket closes as when the process is killed: nothing is released, the key stays until its time-to-live.
        await ((NatsBrokerConnection)a).Client.DisposeAsync();
        await lease.Lost.WaitAsync(Patience);

        var clock = Stopwatch.StartNew();
        var taken = await b.Leases!.TryAcquireAsync(new LeaseRequest("dead-holder", "host-b"), default);
        Assert.True(taken.Acquired, "the server says the holder's connection is gone, so the key is taken over without waiting for its time-to-live");
        Assert.True(clock.Elapsed < NatsLeaseSettings.DefaultTimeToLive, $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task An_unreachable_holders_lease_expires_after_its_time_to_live_and_another_takes_it()
    {
        var b = await ConnectAsync(ttlMs: 2000);
        Assert.True((await b.Leases!.TryAcquireAsync(new LeaseRequest("creates-the-bucket", "host-b"), default)).Acquired);
        await using var raw = await RawAsync();

        // A holder that the server still sees (its liveness subject has a subscriber) but that never answers nor renews:
        // only the time-to-live frees its key.
        await using var silent = await raw.SubscribeCoreAsync<byte[]>("ghost.alive");
        var store = await new NatsKVContext(new NatsJSContext(raw)).GetStoreAsync(_bucket);
        var written = Stopwatch.StartNew();
        await store.CreateAsync(NatsLeaseKeys.KeyFor("expiring"), new NatsLeaseRecord("ghost", "ghost.alive").ToBytes(), NatsRawSerializer<byte[]>.Default);

        LeaseAttempt attempt;
        while (!(attempt = await b.Leases!.TryAcquireAsync(new LeaseRequest("expiring", "host-b"), default)).Acquired)
        {
            Assert.Equal("ghost", attempt.Holder);
            Assert.True(written.Elapsed < Patience, "the key should expire after its time-to-live");
            await Task.Delay(TimeSpan.FromMilliseconds(100)); // poll interval, bounded by the deadline
        }

        Assert.True(written.Elapsed >= TimeSpan.FromSeconds(1.5), $"taken after {written.Elapsed}, before the time-to-live ran out");
        Assert.True(written.Elapsed < TimeSpan.FromSeconds(2) + TimeSpan.FromSeconds(3), $"taken {written.Elapsed} after the write, long after the time-to-live");
    }

    [Fact]
    public async Task A_renewal_that_finds_the_key_changed_completes_Lost()
    {
        var a = await ConnectAsync(ttlMs: 1500);
        var lease = (await a.Leases!.TryAcquireAsync(new LeaseRequest("stolen", "host-a"), default)).Lease!;
        await using var raw = await RawAsync();
        var store = await new NatsKVContext(new NatsJSContext(raw)).GetStoreAsync(_bucket);
        await store.PutAsync(NatsLeaseKeys.KeyFor("stolen"), new NatsLeaseRecord("thief", null).ToBytes(), NatsRawSerializer<byte[]>.Default);

        var clock = Stopwatch.StartNew();
        await lease.Lost.WaitAsync(Patience);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1.5), $"lost {clock.Elapsed} after the key changed, not at the next renewal");
        await lease.DisposeAsync();
        Assert.Equal("thief", NatsLeaseRecord.FromBytes((await store.GetEntryAsync<byte[]>(NatsLeaseKeys.KeyFor("stolen"))).Value)!.Holder); // a lost lease deletes nothing
    }

    [Fact]
    public async Task A_holder_that_cannot_reach_its_server_gives_the_lease_up_before_the_time_to_live_runs_out()
    {
        var store = Directory.CreateTempSubdirectory("nats-js-frozen-").FullName;
        try
        {
            await using var frozen = await FrozenNatsServer.StartAsync("-js", "-sd", store);
            var a = await _transport.ConnectAsync(new ConnectionRequest($"{frozen.Server.Url}?lease-bucket={_bucket}&lease-ttl-ms=3000", "frozen"), default);
            _connections.Add(a);
            var lease = (await a.Leases!.TryAcquireAsync(new LeaseRequest("cut-off", "host-a"), default)).Lease!;

            // The clock starts just before the signal (FreezeAsync sends it at once): no renewal the server answers is sent
            // after it, so the key may expire 3 s after it at the earliest.
            var clock = Stopwatch.StartNew();
            await frozen.FreezeAsync();

            // What keeps two holders apart is IsHeld, which a link asks before every forward: it turns false 4/5 of the
            // time-to-live after the last renewal that got through, by the clock, before the key can expire. Lost, the
            // notification that stops the link's consumer, follows from a timer, which a loaded machine may run late.
            // The time is read before IsHeld is asked, so that a thread descheduled in between cannot make a lease that
            // answered in time look late.
            while (true)
            {
                var asked = clock.Elapsed;
                if (!lease.IsHeld)
                {
                    break;
                }

                Assert.True(asked < TimeSpan.FromSeconds(3), $"still held {asked} after the server stopped answering; its key may expire after 3 s");
                await Task.Delay(TimeSpan.FromMilliseconds(10));
            }

            await lease.Lost.WaitAsync(Patience);
            await frozen.ThawAsync();
        }
        finally
        {
            Directory.Delete(store, recursive: true);
        }
    }

    [Theory]
    [InlineData(50, 0)] // the machine was suspended: the wall clock ran on, the monotonic clock (on Linux) did not
    [InlineData(0, 50)] // the process was paused: the monotonic clock ran on
    [InlineData(-3600, 50)] // paused, and the wall clock was set back meanwhile: the monotonic clock still counts
    public async Task A_lease_is_given_up_when_either_clock_says_no_renewal_got_through_for_too_long(int wallSeconds, int monotonicSeconds)
    {
        // Given up after 4/5 of 60 s = 48 s. The renewal timer runs on the real clock (every 20 s), so it cannot renew
        // the lease during the test: only the clocks moved here decide.
        var clocks = new TwoClocks();
        await using var leases = await OpenLeasesAsync(clocks, TimeSpan.FromSeconds(60));
        var lease = (await leases.TryAcquireAsync(new LeaseRequest("suspended", "host-a"), default)).Lease!;
        Assert.True(lease.IsHeld);

        clocks.Advance(wall: TimeSpan.FromSeconds(wallSeconds), monotonic: TimeSpan.FromSeconds(monotonicSeconds));

        Assert.False(lease.IsHeld);
        Assert.True(lease.Lost.IsCompleted);
    }

    [Fact]
    public async Task A_lease_lost_to_a_pause_says_how_long_the_pause_was()
    {
        // A holder resumed after a 50 s pause (SIGSTOP) finds its lease lapsed at its first forward. The warning (event
        // 6102) is what an operator reads to tell a pause from a slow server: it must name the time that passed, not the
        // 48 s threshold (4/5 of the 60 s time-to-live) it passed.
        var clocks = new TwoClocks();
        var logs = new CapturingLoggerFactory();
        await using var leases = await OpenLeasesAsync(clocks, TimeSpan.FromSeconds(60), logs.CreateLogger("leases"));
        var lease = (await leases.TryAcquireAsync(new LeaseRequest("paused", "host-a"), default)).Lease!;

        clocks.Advance(wall: TimeSpan.Zero, monotonic: TimeSpan.FromSeconds(50));

        Assert.False(lease.IsHeld);
        var warning = Assert.Single(logs.Text.Split(Environment.NewLine), l => l.Contains("is lost", StringComparison.Ordinal));
        Assert.Matches(@"no renewal got through for 50\d{3} ms", warning);
        Assert.Contains("(48000 of 60000 ms)", warning, StringComparison.Ordinal); // the threshold, said as such
    }

    [Theory]
    [InlineData(40, 0)] // suspended for less than 4/5 of the time-to-live
    [InlineData(-3600, 0)] // the wall clock set back
    [InlineData(-86400, 40)] // paused for less, and the wall clock set back a day
    public async Task A_lease_is_held_while_both_clocks_say_the_last_renewal_is_recent(int wallSeconds, int monotonicSeconds)
    {
        var clocks = new TwoClocks();
        await using var leases = await OpenLeasesAsync(clocks, TimeSpan.FromSeconds(60));
        var lease = (await leases.TryAcquireAsync(new LeaseRequest("resumed", "host-a"), default)).Lease!;

        clocks.Advance(wall: TimeSpan.FromSeconds(wallSeconds), monotonic: TimeSpan.FromSeconds(monotonicSeconds));

        Assert.True(lease.IsHeld);
        Assert.False(lease.Lost.IsCompleted);
    }

    [Fact]
    public async Task Without_JetStream_the_connection_offers_no_leases_and_says_why_once()
    {
        await using var core = await NatsServerProcess.StartAsync();
        var logs = new CapturingLoggerFactory();
        var transport = new NatsTransport(null, logs);
        await using var first = await transport.ConnectAsync(new ConnectionRequest($"nats://user:s3cr3t@127.0.0.1:{core.Port}", "no-js"), default);
        await using var second = await transport.ConnectAsync(new ConnectionRequest($"nats://user:s3cr3t@127.0.0.1:{core.Port}", "no-js"), default);

        Assert.DoesNotContain("offers no link leases", logs.Text, StringComparison.Ordinal); // an upstream never asks, and needs none
        Assert.Null(first.Leases);
        Assert.Null(second.Leases);
        var warning = Assert.Single(logs.Text.Split(Environment.NewLine), l => l.Contains("offers no link leases", StringComparison.Ordinal));
        Assert.Contains("-js", warning, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", logs.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Leases_false_turns_them_off_and_an_existing_bucket_keeps_its_max_age()
    {
        Assert.Null((await ConnectAsync(extra: "&leases=false")).Leases);

        await using var raw = await RawAsync();
        await new NatsKVContext(new NatsJSContext(raw)).CreateStoreAsync(new NatsKVConfig(_bucket) { MaxAge = TimeSpan.FromSeconds(7), History = 1 });
        var leases = (NatsKvLeases)(await ConnectAsync(ttlMs: 2000)).Leases!;
        Assert.Equal(TimeSpan.FromSeconds(7), leases.TimeToLive);
    }

    [Fact]
    public async Task Connecting_creates_no_bucket_the_first_lease_taken_creates_it_with_the_time_to_live_as_max_age()
    {
        var connection = await ConnectAsync(ttlMs: 3000);
        await using var raw = await RawAsync();
        var kv = new NatsKVContext(new NatsJSContext(raw));
        var missing = await Assert.ThrowsAsync<NatsJSApiException>(async () => await kv.GetStoreAsync(_bucket));
        Assert.Equal(404, missing.Error.Code); // an upstream connection, which never takes a lease, leaves its server alone

        Assert.True((await connection.Leases!.TryAcquireAsync(new LeaseRequest("first", "host-a"), default)).Acquired);
        var status = await (await kv.GetStoreAsync(_bucket)).GetStatusAsync();
        Assert.Equal(TimeSpan.FromSeconds(3), status.Info.Config.MaxAge);
        Assert.Equal(TimeSpan.FromSeconds(3), ((NatsKvLeases)connection.Leases).TimeToLive);
    }

    [Theory]
    [InlineData("leases=maybe", "'leases=maybe'")]
    [InlineData("lease-bucket=a.b", "'lease-bucket=a.b'")]
    [InlineData("lease-ttl-ms=500", "'lease-ttl-ms=500'")]
    [InlineData("lease-ttl-ms=x", "'lease-ttl-ms=x'")]
    public void Bad_lease_keys_are_refused_naming_the_key_and_value(string query, string named)
    {
        var problem = Assert.Single(new NatsTransport().ValidateUri($"nats://127.0.0.1:4222?{query}"));
        Assert.Contains(named, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Lease_names_become_distinct_valid_keys()
    {
        var names = new[] { "federation: lease DOWN orders -> up", "federation: lease DOWN orders -> up2", "a.b", "a=2Eb", "ü", ".x." };
        var keys = names.Select(NatsLeaseKeys.KeyFor).ToList();
        Assert.Equal(names.Length, keys.Distinct(StringComparer.Ordinal).Count());
        Assert.All(keys, key => Assert.True(NatsKVStore.IsValidKey(key).Success, key));
        Assert.Equal("federation=3A=20lease=20DOWN=20orders=20-=3E=20up", keys[0]);
    }

    private async Task<IBrokerConnection> ConnectAsync(int? ttlMs = null, string extra = "")
    {
        var ttl = ttlMs is { } ms ? $"&lease-ttl-ms={ms}" : "";
        var connection = await _transport.ConnectAsync(new ConnectionRequest($"{fixture.Server.Url}?lease-bucket={_bucket}{ttl}{extra}", "lease-test"), default);
        _connections.Add(connection);
        return connection;
    }

    /// <summary>Leases on a connection of their own, judged by <paramref name="time"/>, in a bucket of max age <paramref name="timeToLive"/>.</summary>
    private async Task<NatsKvLeases> OpenLeasesAsync(TimeProvider time, TimeSpan timeToLive, ILogger? logger = null)
    {
        var raw = await RawAsync();
        _raw.Add(raw);
        var leases = await NatsKvLeases.OpenAsync(
            raw, new NatsLeaseSettings(true, _bucket, timeToLive), fixture.Server.Url, Patience, logger ?? NullLogger.Instance, reason => Assert.Fail(reason), default, time);
        Assert.NotNull(leases);
        leases.TieTo(new TaskCompletionSource().Task); // the connection stays open for the test
        return leases;
    }

    private async Task<NatsConnection> RawAsync()
    {
        var raw = new NatsConnection(new NatsOpts { Url = fixture.Server.Url });
        await raw.ConnectAsync();
        return raw;
    }
}
