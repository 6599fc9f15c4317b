using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Federation.Core.Transport;

namespace Federation.Amqp.IntegrationTests.Tls;

/// <summary>
/// <c>amqps://</c> pointed at a plain AMQP port (an operator review found the error blamed a missing client
/// certificate): a plain listener answers the TLS hello with its protocol header, so the error now says the port speaks
/// plain AMQP and what to do. A port that just resets the handshake keeps the client-certificate hint. The reverse,
/// <c>amqp://</c> to a TLS port, is reset by the broker; that error suggests <c>amqps://</c>.
/// </summary>
[Collection(TlsNodesCollection.Name)]
public sealed class TlsToPlainPortTests(TlsNodesFixture fixture) : IAsyncLifetime
{
    private readonly AmqpTransport transport = new();
    private readonly CancellationTokenSource timeout = new(TimeSpan.FromMinutes(1));

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        timeout.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Amqps_to_a_RabbitMQ_plain_port_says_the_port_answers_plain_AMQP()
    {
        var error = await ConnectFailsAsync(fixture.Optional.AmqpPort);

        Assert.StartsWith($"The TLS handshake with 127.0.0.1:{fixture.Optional.AmqpPort.ToString(CultureInfo.InvariantCulture)} failed: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("the port answers plain AMQP, not TLS: use amqp://", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("certfile", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Amqps_to_a_port_that_resets_the_handshake_keeps_the_client_certificate_hint()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var resetting = Task.Run(async () =>
        {
            // Twice: the connect, then the probe that asks whether the port speaks plain AMQP.
            for (var i = 0; i < 2; i++)
            {
                using var client = await listener.AcceptTcpClientAsync(timeout.Token);
                _ = await client.GetStream().ReadAsync(new byte[4096], timeout.Token); // whatever arrives first: a TLS hello or an AMQP header
                client.Client.LingerState = new LingerOption(true, 0); // close with RST, as a broker refusing the client does
            }
        });

        var error = await ConnectFailsAsync(port);

        Assert.Contains("set certfile and keyfile", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("plain AMQP", error.Message, StringComparison.Ordinal);
        await resetting.WaitAsync(timeout.Token);
    }

    [Fact]
    public async Task Amqp_to_a_RabbitMQ_TLS_port_suggests_amqps()
    {
        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
        {
            var uri = $"amqp://guest:s3cr3t@127.0.0.1:{fixture.OptionalTlsPort.ToString(CultureInfo.InvariantCulture)}/?topology=none&connection_timeout=10000";
            await using var connection = await transport.ConnectAsync(new ConnectionRequest(uri, "plain-to-tls"), timeout.Token);
        });

        Assert.Contains("a TLS port resets plain AMQP clients like this: if this is the broker's TLS port, use amqps://", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", error.ToString(), StringComparison.Ordinal);
    }

    private async Task<BrokerUnreachableException> ConnectFailsAsync(int port) =>
        await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
        {
            var uri = $"amqps://guest:s3cr3t@127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/?topology=none&verify=verify_none&connection_timeout=10000";
            await using var connection = await transport.ConnectAsync(new ConnectionRequest(uri, "tls-to-plain"), timeout.Token);
        });
}
