using Federation.Core.Transport;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// An AMQP <c>message-id</c> is a short string of any bytes, CR and LF included, and a JetStream downstream takes it as the
/// message's <c>Nats-Msg-Id</c>. A header line cannot hold CR or LF: the client refused CR LF and failed the publish as a
/// lost connection, so the link restarted, the upstream gave the message back first, and nothing behind it ever crossed
/// (what had been written behind it was stored again at every attempt); a bare LF was written and began a header of the
/// publisher's choosing (black-box run, 8 Dec 2026). Such an id names nothing here: the message crosses without it.
/// </summary>
public sealed class JetStreamUnwritableMessageIdTests : IAsyncLifetime
{
    private readonly NatsTransport _transport = new();
    private NatsServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await NatsServerProcess.StartJetStreamAsync("js-msgid");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task A_message_id_with_CR_or_LF_is_not_the_nats_msg_id_and_the_message_crosses_without_a_header_of_its_making()
    {
        var downstream = await _transport.ConnectAsync(new ConnectionRequest($"{_server.Url}?cluster-name=D&jetstream=true", "Federation supervisor"), CancellationToken.None);
        await using var _ = downstream;
        await using var publisher = await downstream.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);

        await publisher.PublishAsync("ids", "a", new MessageProperties { MessageId = "crlf\r\nX-Injected: yes" }, "crlf"u8.ToArray(), CancellationToken.None);
        await publisher.PublishAsync("ids", "a", new MessageProperties { MessageId = "lf\nX-Injected: yes" }, "lf"u8.ToArray(), CancellationToken.None);
        await publisher.PublishAsync("ids", "a", new MessageProperties { MessageId = "plain" }, "plain"u8.ToArray(), CancellationToken.None);

        Assert.Equal(["crlf", "lf", "plain"], await JetStreamTestKit.ReadAllTextAsync(_server, "federation-ids"));
        await using var nats = new NatsConnection(new NatsOpts { Url = _server.Url });
        var stream = await new NatsJSContext(nats).GetStreamAsync("federation-ids");
        for (ulong sequence = 1; sequence <= 2; sequence++)
        {
            var stored = await stream.GetAsync(new NATS.Client.JetStream.Models.StreamMsgGetRequest { Seq = sequence });
            var headerBlock = stored.Message.Hdrs is { } hdrs ? System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(hdrs)) : "";
            Assert.DoesNotContain("X-Injected", headerBlock, StringComparison.Ordinal);
            Assert.DoesNotContain("Nats-Msg-Id", headerBlock, StringComparison.Ordinal);
        }

        var plain = await stream.GetAsync(new NATS.Client.JetStream.Models.StreamMsgGetRequest { Seq = 3 });
        Assert.Contains("Nats-Msg-Id: plain\r\n", System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(plain.Message.Hdrs!)), StringComparison.Ordinal);
    }
}
