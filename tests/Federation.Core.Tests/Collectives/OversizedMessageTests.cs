using Federation.Core.Collectives;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// A message the outgoing server refuses on its own (NATS: a body over that server's <c>max_payload</c>, which any client
/// on the federation may send when the federation's server allows more than the collective's) is that message's problem,
/// not the connection's: it is dropped and counted as <c>unsendable</c>, logged at Debug like a rejected message, and the
/// other targets are relayed. Counted as <c>publish_failed</c> it read as a connection problem and logged a warning with a
/// stack for what a hostile client chose.
/// </summary>
public sealed class OversizedMessageTests
{
    [Theory]
    [InlineData(FederationEnvelopeFormat.Native)]
    [InlineData(FederationEnvelopeFormat.Choria)]
    public async Task A_message_the_collectives_server_refuses_is_counted_as_unsendable_and_the_other_targets_are_relayed(FederationEnvelopeFormat envelope)
    {
        var cluster = $"oversized-{envelope}".ToLowerInvariant();
        using var metrics = new BrokerMetricsRecorder(cluster);
        using var harness = new RelayHarness(o => o.Envelope = envelope, cluster);
        harness.Collective.ServerRefusal = m => m.Subject == "mcollective.node.small-server"
            ? new PublishNackedException($"The message for '{m.Subject}' was refused: Payload size 2097335 exceeds server's maximum payload size 1048576")
            : null;

        await harness.RequestAsync(envelope == FederationEnvelopeFormat.Native
            ? new SubjectMessage(harness.Subjects.Federation, "x"u8.ToArray(),
                [new(FederationHeaders.RequestId, "r1"), new(FederationHeaders.ReplyTo, "client.reply.r1"),
                 new(FederationHeaders.Target, "mcollective.node.small-server"), new(FederationHeaders.Target, "mcollective.node.web1")])
            : new SubjectMessage(harness.Subjects.Federation, "{\"protocol\":\"choria:transport:1\",\"data\":\"eyJhIjoxfQ==\",\"headers\":{\"reply-to\":\"mcollective.reply.c.1\",\"federation\":{\"req\":\"r1\",\"target\":[\"mcollective.node.small-server\",\"mcollective.node.web1\"]}}}"u8.ToArray()));

        Assert.Equal(["mcollective.node.web1"], harness.Collective.Published.Select(m => m.Subject));
        Assert.Equal(1, metrics.Sum("federation.broker.errors", ("error.type", BrokerErrorTypes.Unsendable), ("federation.broker.direction", "request")));
        Assert.Equal(0, metrics.Sum("federation.broker.errors", ("error.type", BrokerErrorTypes.PublishFailed)));
    }
}
