using System.Diagnostics;
using Federation.Core.Transport;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests;

/// <summary>A peer that accepts TCP and never answers must fail a connect attempt by its deadline. Needs no broker.</summary>
public sealed class SilentPeerTests
{
    [Fact]
    public async Task Connect_ToAPeerThatNeverAnswers_FailsByTheConnectionTimeout()
    {
        await using var peer = new SilentPeer();
        var transport = new AmqpTransport();
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await transport.ConnectAsync(new ConnectionRequest($"amqp://u:s3cr3t@127.0.0.1:{peer.Port}/%2f?connection_timeout=2000", "silent"), CancellationToken.None));

        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(15));
        Assert.Contains("timed out", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("s3cr3t", error.ToString(), StringComparison.Ordinal);
    }
}
