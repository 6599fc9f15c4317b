using System.Collections.Concurrent;
using System.Text;
using Federation.Core.Collectives;
using Federation.Core.Collectives.Choria;
using Federation.Core.Hosting;
using Federation.Core.InMemory.Subjects;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Federation.Core.Tests.Collectives.Choria;

/// <summary>
/// A broker cluster with a Choria envelope on the in-memory bus: Choria's wire bytes in, Choria's wire bytes out (the
/// go-choria fixtures), and hostile messages counted and dropped without harm.
/// </summary>
public sealed class ChoriaBrokerTests
{
    private const string FederationSubject = "choria.federation.london.federation";
    private const string CollectiveSubject = "choria.federation.london.collective";

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Records what arrives on a subject, as bytes that outlive the delivery.</summary>
    private static async Task<ConcurrentQueue<SubjectMessage>> RecordAsync(ISubjectConnection connection, string subject)
    {
        var received = new ConcurrentQueue<SubjectMessage>();
        await connection.SubscribeAsync(subject, null, (message, _) =>
        {
            received.Enqueue(message with { Body = message.Body.ToArray() });
            return ValueTask.CompletedTask;
        }, CancellationToken.None);
        return received;
    }

    private static Task<FederationBroker> StartLondonAsync(CollectivesTestbed testbed, FederationEnvelopeFormat envelope) =>
        testbed.StartBrokerAsync("london", "fed", "london", "london-1", options => options.Envelope = envelope);

    [Theory]
    [InlineData(FederationEnvelopeFormat.ChoriaV1)]
    [InlineData(FederationEnvelopeFormat.Choria)]
    public async Task A_v1_broadcast_reaches_the_target_and_the_reply_reaches_the_client_byte_for_byte_as_go_choria_does_it(FederationEnvelopeFormat envelope)
    {
        await using var testbed = new CollectivesTestbed();
        var broker = await StartLondonAsync(testbed, envelope);
        var node = await testbed.ConnectAsync("london", "web1");
        var atNode = await RecordAsync(node, "mcollective.broadcast.agent.test");
        var client = await testbed.ConnectAsync("fed", "choria-client");
        var atClient = await RecordAsync(client, ChoriaFixtures.V1ClientReplyTo);

        await client.PublishAsync(new SubjectMessage(FederationSubject, Bytes(ChoriaFixtures.V1Request)), CancellationToken.None);
        await CollectivesTestbed.WaitUntilAsync(() => !atNode.IsEmpty, "the node received the request");

        var request = Assert.Single(atNode);
        Assert.Equal(ChoriaFixtures.V1RequestInCollective, CollectivesTestbed.Text(request));
        Assert.Null(request.ReplyTo); // Choria routes on the JSON reply-to, as go-choria's PublishRaw does
        Assert.Null(request.Headers);

        await node.PublishAsync(new SubjectMessage(CollectiveSubject, Bytes(ChoriaFixtures.V1Reply)), CancellationToken.None);
        await CollectivesTestbed.WaitUntilAsync(() => !atClient.IsEmpty, "the client received the reply");

        Assert.Equal(ChoriaFixtures.V1ReplyToClient, CollectivesTestbed.Text(Assert.Single(atClient)));
        Assert.Equal(new FederationBrokerStatistics(1, 1, 2, 0), broker.Statistics);
    }

    [Theory]
    [InlineData(FederationEnvelopeFormat.ChoriaV2)]
    [InlineData(FederationEnvelopeFormat.Choria)]
    public async Task A_v2_directed_request_reaches_each_node_and_the_reply_reaches_the_client_byte_for_byte(FederationEnvelopeFormat envelope)
    {
        await using var testbed = new CollectivesTestbed();
        var broker = await StartLondonAsync(testbed, envelope);
        var web1 = await testbed.ConnectAsync("london", "web1");
        var atWeb1 = await RecordAsync(web1, "choria.node.web1.example.net");
        var web2 = await testbed.ConnectAsync("london", "web2");
        var atWeb2 = await RecordAsync(web2, "choria.node.web2.example.net");
        var client = await testbed.ConnectAsync("fed", "choria-client");
        var atClient = await RecordAsync(client, ChoriaFixtures.V2ClientReplyTo);

        await client.PublishAsync(new SubjectMessage(FederationSubject, Bytes(ChoriaFixtures.V2Request)), CancellationToken.None);
        await CollectivesTestbed.WaitUntilAsync(() => !atWeb1.IsEmpty && !atWeb2.IsEmpty, "both nodes received the request");

        Assert.Equal(ChoriaFixtures.V2RequestInCollective, CollectivesTestbed.Text(Assert.Single(atWeb1)));
        Assert.Equal(ChoriaFixtures.V2RequestInCollective, CollectivesTestbed.Text(Assert.Single(atWeb2)));

        await web1.PublishAsync(new SubjectMessage(CollectiveSubject, Bytes(ChoriaFixtures.V2Reply)), CancellationToken.None);
        await CollectivesTestbed.WaitUntilAsync(() => !atClient.IsEmpty, "the client received the reply");

        Assert.Equal(ChoriaFixtures.V2ReplyToClient, CollectivesTestbed.Text(Assert.Single(atClient)));
        Assert.Equal(new FederationBrokerStatistics(1, 1, 3, 0), broker.Statistics);
    }

    private const string Reply = "mcollective.reply.c0ffee.r1";
    private const string Broadcast = "mcollective.broadcast.agent.test";

    public static TheoryData<string, string, string> HostileRequests => new()
    {
        { "version of another cluster", ChoriaFixtures.V2Request, BrokerErrorTypes.Malformed },
        { "not JSON", "{\"protocol\":", BrokerErrorTypes.Malformed },
        { "native envelope", "ping", BrokerErrorTypes.Malformed },
        { "bad base64", ChoriaFixtures.V1Request.Replace("\"data\":\"eyJw", "\"data\":\"*yJw", StringComparison.Ordinal), BrokerErrorTypes.Malformed },
        { "not federated", $$$$"""{"protocol":"choria:transport:1","data":"e30=","headers":{"reply-to":"{{{{Reply}}}}"}}""", BrokerErrorTypes.Malformed },
        { "no request id", $$$$"""{"protocol":"choria:transport:1","data":"e30=","headers":{"reply-to":"{{{{Reply}}}}","federation":{"target":["{{{{Broadcast}}}}"]}}}""", BrokerErrorTypes.Malformed },
        { "no targets", $$$$"""{"protocol":"choria:transport:1","data":"e30=","headers":{"reply-to":"{{{{Reply}}}}","federation":{"req":"r1"}}}""", BrokerErrorTypes.Malformed },
        { "no reply-to", $$$$"""{"protocol":"choria:transport:1","data":"e30=","headers":{"federation":{"req":"r1","target":["{{{{Broadcast}}}}"]}}}""", BrokerErrorTypes.Malformed },
        { "target escaping into the federation", $$$$"""{"protocol":"choria:transport:1","data":"e30=","headers":{"reply-to":"{{{{Reply}}}}","federation":{"req":"r1","target":["{{{{Broadcast}}}}","choria.federation.tokyo.federation"]}}}""", BrokerErrorTypes.TargetRejected },
        { "reply-to that is not a reply subject", $$$$"""{"protocol":"choria:transport:1","data":"e30=","headers":{"reply-to":"{{{{Broadcast}}}}","federation":{"req":"r1","target":["{{{{Broadcast}}}}"]}}}""", BrokerErrorTypes.ReplyRejected },
    };

    [Theory]
    [MemberData(nameof(HostileRequests))]
    public async Task Hostile_requests_are_counted_dropped_and_the_broker_goes_on(string defect, string body, string errorType)
    {
        _ = defect;
        await using var testbed = new CollectivesTestbed();
        using var metrics = new BrokerMetricsRecorder("london");
        var broker = await StartLondonAsync(testbed, FederationEnvelopeFormat.ChoriaV1);
        var node = await testbed.ConnectAsync("london", "web1");
        var atNode = await RecordAsync(node, Broadcast);
        var client = await testbed.ConnectAsync("fed", "choria-client");

        await client.PublishAsync(new SubjectMessage(FederationSubject, Bytes(body)), CancellationToken.None);
        await CollectivesTestbed.WaitUntilAsync(() => broker.Statistics.Errors == 1, "the error was counted");

        Assert.Equal(1, metrics.Sum("federation.broker.errors", ("error.type", errorType)));
        Assert.Equal(0, broker.Statistics.Published);
        Assert.Empty(atNode);

        // Still working: a good request after the bad one gets through.
        await client.PublishAsync(new SubjectMessage(FederationSubject, Bytes(ChoriaFixtures.V1Request)), CancellationToken.None);
        await CollectivesTestbed.WaitUntilAsync(() => !atNode.IsEmpty, "the next request got through");
        Assert.Equal(ChoriaFixtures.V1RequestInCollective, CollectivesTestbed.Text(Assert.Single(atNode)));
    }

    [Fact]
    public async Task A_request_whose_text_is_not_UTF8_is_counted_as_malformed_and_the_broker_goes_on()
    {
        await using var testbed = new CollectivesTestbed();
        using var metrics = new BrokerMetricsRecorder("london");
        var broker = await StartLondonAsync(testbed, FederationEnvelopeFormat.ChoriaV1);
        var node = await testbed.ConnectAsync("london", "web1");
        var atNode = await RecordAsync(node, Broadcast);
        var client = await testbed.ConnectAsync("fed", "choria-client");
        // A request id with the bytes ff fe: valid JSON structure, but no text (the JSON reader throws when asked for it).
        var json = $$$$"""{"protocol":"choria:transport:1","data":"e30=","headers":{"reply-to":"{{{{Reply}}}}","federation":{"req":"r#","target":["{{{{Broadcast}}}}"]}}}""";
        var at = json.IndexOf('#', StringComparison.Ordinal);
        byte[] body = [.. Bytes(json[..at]), 0xff, 0xfe, .. Bytes(json[(at + 1)..])];

        await client.PublishAsync(new SubjectMessage(FederationSubject, body), CancellationToken.None);
        await CollectivesTestbed.WaitUntilAsync(() => broker.Statistics.Errors == 1, "the error was counted");

        Assert.Equal(1, metrics.Sum("federation.broker.errors", ("error.type", BrokerErrorTypes.Malformed)));
        Assert.Empty(atNode);
        await client.PublishAsync(new SubjectMessage(FederationSubject, Bytes(ChoriaFixtures.V1Request)), CancellationToken.None);
        await CollectivesTestbed.WaitUntilAsync(() => !atNode.IsEmpty, "the next request got through");
    }

    [Fact]
    public async Task An_oversized_request_is_counted_and_dropped_unparsed()
    {
        await using var testbed = new CollectivesTestbed();
        using var metrics = new BrokerMetricsRecorder("london");
        var broker = await StartLondonAsync(testbed, FederationEnvelopeFormat.Choria);
        var client = await testbed.ConnectAsync("fed", "choria-client");

        await client.PublishAsync(new SubjectMessage(FederationSubject, new byte[ChoriaTransportReader.MaxMessageBytes + 1]), CancellationToken.None);
        await CollectivesTestbed.WaitUntilAsync(() => broker.Statistics.Errors == 1, "the error was counted");

        Assert.Equal(1, metrics.Sum("federation.broker.errors", ("error.type", BrokerErrorTypes.Malformed)));
        Assert.Equal(0, broker.Statistics.Published);
    }

    public static TheoryData<string, string> HostileReplies => new()
    {
        { ChoriaFixtures.V1ReplyToClient, BrokerErrorTypes.Malformed }, // no federation block: not federated
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"federation":{"req":"r1"}}}""", BrokerErrorTypes.Malformed }, // nowhere to go
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"federation":{"req":"r1","reply-to":"mcollective.node.web9"}}}""", BrokerErrorTypes.ReplyRejected },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"federation":{"req":"r1","reply-to":"choria.federation.tokyo.federation"}}}""", BrokerErrorTypes.ReplyRejected },
        { "[]", BrokerErrorTypes.Malformed },
    };

    [Theory]
    [MemberData(nameof(HostileReplies))]
    public async Task Hostile_replies_are_counted_and_dropped(string body, string errorType)
    {
        await using var testbed = new CollectivesTestbed();
        using var metrics = new BrokerMetricsRecorder("london");
        var broker = await StartLondonAsync(testbed, FederationEnvelopeFormat.ChoriaV1);
        var node = await testbed.ConnectAsync("london", "web1");

        await node.PublishAsync(new SubjectMessage(CollectiveSubject, Bytes(body)), CancellationToken.None);
        await CollectivesTestbed.WaitUntilAsync(() => broker.Statistics.Errors == 1, "the error was counted");

        Assert.Equal(1, metrics.Sum("federation.broker.errors", ("error.type", errorType)));
        Assert.Equal(0, broker.Statistics.Published);
    }

    [Fact]
    public async Task A_native_cluster_does_not_read_choria_json()
    {
        await using var testbed = new CollectivesTestbed();
        var broker = await StartLondonAsync(testbed, FederationEnvelopeFormat.Native);
        var client = await testbed.ConnectAsync("fed", "choria-client");

        await client.PublishAsync(new SubjectMessage(FederationSubject, Bytes(ChoriaFixtures.V1Request)), CancellationToken.None);
        await CollectivesTestbed.WaitUntilAsync(() => broker.Statistics.Errors == 1, "the error was counted");

        Assert.Equal(0, broker.Statistics.Published);
    }

    [Theory]
    [InlineData("native", FederationEnvelopeFormat.Native)]
    [InlineData("choria-v1", FederationEnvelopeFormat.ChoriaV1)]
    [InlineData("CHORIA-V2", FederationEnvelopeFormat.ChoriaV2)]
    [InlineData("ChoriaV2", FederationEnvelopeFormat.ChoriaV2)]
    [InlineData("choria", FederationEnvelopeFormat.Choria)]
    public void The_envelope_is_read_from_configuration(string value, FederationEnvelopeFormat expected)
    {
        var options = new FederationBrokerOptions();
        var section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Envelope"] = value }).Build();

        FederationBrokerConfigurationReader.Read(section, options);

        Assert.Equal(expected, options.Envelope);
        Assert.Empty(options.ConfigurationErrors);
    }

    [Fact]
    public void An_unknown_envelope_is_reported_naming_the_key_and_the_value()
    {
        var options = new FederationBrokerOptions { ClusterName = "london", FederationUri = "memory://fed", CollectiveUri = "memory://london" };
        var section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Envelope"] = "choria-v3" }).Build();

        FederationBrokerConfigurationReader.Read(section, options);

        Assert.Equal(["Envelope: 'choria-v3' is not one of native, choria-v1, choria-v2, choria"], FederationBrokerOptionsValidation.Validate(options));
    }

    [Fact]
    public void A_misspelt_key_is_reported_naming_it_rather_than_leaving_its_default()
    {
        var options = new FederationBrokerOptions { ClusterName = "london", FederationUri = "memory://fed", CollectiveUri = "memory://london" };
        var section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Envelop"] = "choria-v1", ["workers"] = "2" }).Build();

        FederationBrokerConfigurationReader.Read(section, options);

        var error = Assert.Single(FederationBrokerOptionsValidation.Validate(options));
        Assert.StartsWith("Envelop: is not a federation broker setting (they are ClusterName, ", error, StringComparison.Ordinal);
        Assert.Equal(2, options.Workers);
        Assert.Equal(FederationEnvelopeFormat.Native, options.Envelope);
    }

    [Fact]
    public void An_undefined_envelope_value_is_refused_by_validation()
    {
        var options = new FederationBrokerOptions { ClusterName = "london", FederationUri = "memory://fed", CollectiveUri = "memory://london", Envelope = (FederationEnvelopeFormat)9 };

        var error = Assert.Throws<ArgumentException>(() => new FederationBroker(options, []));

        Assert.Contains("Envelope: '9' is not one of native, choria-v1, choria-v2, choria", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_broker_configured_with_Envelope_choria_v1_in_a_host_relays_choria_json()
    {
        var registry = new InMemorySubjectServerRegistry();
        registry.Add(new InMemorySubjectServer("fed"));
        registry.Add(new InMemorySubjectServer("london"));
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["FederationBrokers:london:FederationUri"] = "memory://fed",
            ["FederationBrokers:london:CollectiveUri"] = "memory://london",
            ["FederationBrokers:london:InstanceName"] = "london-1",
            ["FederationBrokers:london:Envelope"] = "choria-v1",
        });
        builder.Services.AddSingleton(registry);
        builder.Services.AddFederationBroker(builder.Configuration.GetSection("FederationBrokers:london"));
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var resolver = host.Services.GetRequiredService<SubjectTransportResolver>();
            await using var node = await resolver.ConnectAsync("memory://london", "web1", CancellationToken.None);
            var atNode = await RecordAsync(node, "mcollective.broadcast.agent.test");
            await using var client = await resolver.ConnectAsync("memory://fed", "choria-client", CancellationToken.None);

            await client.PublishAsync(new SubjectMessage(FederationSubject, Bytes(ChoriaFixtures.V1Request)), CancellationToken.None);
            await CollectivesTestbed.WaitUntilAsync(() => !atNode.IsEmpty, "the node received the request");

            Assert.Equal(ChoriaFixtures.V1RequestInCollective, CollectivesTestbed.Text(Assert.Single(atNode)));
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
