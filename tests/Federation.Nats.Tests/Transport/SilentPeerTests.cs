using System.Diagnostics;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Federation.Nats.Messaging;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.Transport;

/// <summary>A peer that accepts TCP and never sends INFO must fail a connect attempt by its deadline, naming why.</summary>
public sealed class SilentPeerTests
{
    [Fact]
    public async Task Connect_to_a_peer_that_never_sends_INFO_fails_by_connect_timeout_with_the_reason_and_no_secret()
    {
        await using var peer = new SilentPeer();
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await new NatsTransport().ConnectAsync(new ConnectionRequest($"nats://user:s3cr3t@127.0.0.1:{peer.Port}?connect-timeout-ms=1000", "silent"), CancellationToken.None));

        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(15));
        Assert.Equal(1, peer.Accepted);
        Assert.Contains($"nats://127.0.0.1:{peer.Port}", error.Message, StringComparison.Ordinal);
        Assert.Contains("Timed out", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_without_connect_timeout_uses_the_default_deadline()
    {
        await using var peer = new SilentPeer();
        var clock = Stopwatch.StartNew();

        await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await new NatsTransport().ConnectAsync(new ConnectionRequest($"nats://127.0.0.1:{peer.Port}", "silent"), CancellationToken.None));

        Assert.InRange(clock.Elapsed, NatsUriSettings.DefaultConnectTimeout - TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task The_subject_transport_also_names_the_reason()
    {
        await using var peer = new SilentPeer();

        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await new NatsSubjectTransport().ConnectAsync(new SubjectConnectionRequest($"nats://user:s3cr3t@127.0.0.1:{peer.Port}?connect-timeout-ms=1000&max-reconnect-attempts=0", "silent"), CancellationToken.None));

        Assert.Contains("Timed out", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_reason_never_shows_a_piece_of_the_user_part_that_parsed_as_a_host()
    {
        // An unencoded '/' in a token makes the URI parser take "tok3nhalf" for the host; the client then names it.
        var error = NatsConnectErrors.Unreachable(
            "nats://tok3nhalf/0therhalf@127.0.0.1:4222",
            "nats://127.0.0.1:4222",
            new InvalidOperationException("Timed out connecting to tok3nhalf:4222 after 1000 ms."));

        Assert.Equal("Could not connect to NATS server: Timed out connecting to <redacted>:4222 after 1000 ms. URI: nats://127.0.0.1:4222", error.Message);
    }
}
