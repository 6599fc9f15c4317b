using System.Globalization;
using Federation.Core.Transport;

namespace Federation.Amqp.IntegrationTests.Tls;

/// <summary>
/// <c>amqps://</c> with the Erlang client's TLS keys against real RabbitMQ TLS listeners: the server checked against
/// <c>cacertfile</c> (or not, with <c>verify_none</c>), its name against <c>server_name_indication</c>, a client
/// certificate from <c>certfile</c>/<c>keyfile</c>, and EXTERNAL authentication by that certificate.
/// </summary>
[Collection(TlsNodesCollection.Name)]
public sealed class TlsLinkTests(TlsNodesFixture fixture, Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private readonly AmqpTransport transport = new();
    private readonly List<IAsyncDisposable> resources = [];
    private readonly CancellationTokenSource timeout = new(TimeSpan.FromMinutes(1));

    private CancellationToken Ct => timeout.Token;

    private TestCertificates Files => fixture.Certificates;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var resource in Enumerable.Reverse(resources))
        {
            await resource.DisposeAsync();
        }

        timeout.Dispose();
    }

    [Fact]
    public async Task CaCertFile_WithVerifyPeer_Connects_WithoutAClientCertificate()
    {
        var connection = await ConnectAsync(Uri(fixture.OptionalTlsPort, "guest:guest@", $"cacertfile={Escape(Files.CaFile)}&verify=verify_peer"));

        Assert.Equal(fixture.Optional.ClusterName, connection.ClusterName);
    }

    [Fact]
    public async Task ServerNameIndication_ThatTheCertificateCarries_Connects()
    {
        var connection = await ConnectAsync(Uri(fixture.OptionalTlsPort, "guest:guest@", $"cacertfile={Escape(Files.CaFile)}&server_name_indication=localhost"));

        Assert.Equal(fixture.Optional.ClusterName, connection.ClusterName);
    }

    [Fact]
    public async Task WrongCa_IsRefused_NamingTheCertificateProblem()
    {
        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await ConnectAsync(Uri(fixture.OptionalTlsPort, "guest:s3cr3t-guest@", $"cacertfile={Escape(Files.OtherCaFile)}")));

        Assert.StartsWith($"TLS refused the server at 127.0.0.1:{fixture.OptionalTlsPort.ToString(CultureInfo.InvariantCulture)}: the server certificate 'CN=localhost' is not signed by a CA in cacertfile", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t-guest", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoCaCertFile_TrustsOnlyTheSystemStore_SoATestCaIsRefused()
    {
        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await ConnectAsync(Uri(fixture.OptionalTlsPort, "guest:guest@", string.Empty)));

        Assert.Contains("is not trusted by the system's CA store", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServerNameIndication_ThatTheCertificateDoesNotCarry_IsRefused()
    {
        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await ConnectAsync(Uri(fixture.OptionalTlsPort, "guest:guest@", $"cacertfile={Escape(Files.CaFile)}&server_name_indication=broker.example")));

        Assert.Contains("is not valid for the name 'broker.example'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyNone_ConnectsWithoutCheckingTheServer()
    {
        var connection = await ConnectAsync(Uri(fixture.OptionalTlsPort, "guest:guest@", $"cacertfile={Escape(Files.OtherCaFile)}&verify=verify_none"));

        Assert.Equal(fixture.Optional.ClusterName, connection.ClusterName);
    }

    [Fact]
    public async Task ClientCertificate_WithExternal_LogsInAsTheCertificatesUser_WithoutAPassword()
    {
        var uri = Uri(fixture.RequiredTlsPort, string.Empty, $"cacertfile={Escape(Files.CaFile)}&certfile={Escape(Files.ClientCertFile)}&keyfile={Escape(Files.ClientKeyFile)}&auth_mechanism=external");

        var connection = await ConnectAsync(uri, "tls-external");

        Assert.Equal(fixture.Required.ClusterName, connection.ClusterName);
        var users = await Poll.UntilAsync(
            async () =>
            {
                var listed = await TlsNodesFixture.Ctl(fixture.Required, "list_connections", "client_properties", "user", "auth_mechanism", "ssl");
                return listed.Contains("tls-external", StringComparison.Ordinal) ? listed : null;
            },
            "the node lists the connection");
        var line = users.Split('\n').Single(row => row.Contains("tls-external", StringComparison.Ordinal));
        Assert.Contains(TestCertificates.ClientUser, line, StringComparison.Ordinal);
        Assert.Contains("EXTERNAL", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientCertificate_WithPlain_IsSentAndTheUserStaysThePasswordOne()
    {
        var uri = Uri(fixture.RequiredTlsPort, "guest:guest@", $"cacertfile={Escape(Files.CaFile)}&certfile={Escape(Files.ClientCertFile)}&keyfile={Escape(Files.ClientKeyFile)}");

        var connection = await ConnectAsync(uri);

        Assert.Equal(fixture.Required.ClusterName, connection.ClusterName);
    }

    [Fact]
    public async Task NoClientCertificate_WhereTheServerRequiresOne_FailsTheConnect()
    {
        var error = await Assert.ThrowsAnyAsync<TransportException>(async () =>
            await ConnectAsync(Uri(fixture.RequiredTlsPort, "guest:s3cr3t-guest@", $"cacertfile={Escape(Files.CaFile)}&connection_timeout=10000")));

        output.WriteLine(error.ToString());
        Assert.IsType<BrokerUnreachableException>(error);
        Assert.StartsWith($"The TLS handshake with 127.0.0.1:{fixture.RequiredTlsPort.ToString(CultureInfo.InvariantCulture)} failed: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("set certfile and keyfile", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t-guest", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientCertificate_FromACaTheServerDoesNotTrust_IsNamedAsTheRefusedOne()
    {
        // A black-box run of FederationHost read only "tlsv1 alert unknown ca" for this, which reads as a problem with
        // the broker's certificate; the NATS transport names the client certificate.
        var directory = Directory.CreateTempSubdirectory("amqp-untrusted-client-").FullName;
        try
        {
            var openssl = await Federation.Testing.Brokers.TestCertificates.CreateAsync(directory);
            var error = await Assert.ThrowsAnyAsync<TransportException>(async () => await ConnectAsync(Uri(fixture.RequiredTlsPort, "guest:s3cr3t-guest@",
                $"cacertfile={Escape(Files.CaFile)}&certfile={Escape(openssl.UntrustedClientCertFile)}&keyfile={Escape(openssl.UntrustedClientKeyFile)}&connection_timeout=10000")));

            output.WriteLine(error.ToString());
            Assert.IsType<BrokerUnreachableException>(error);
            // An alert (TLS 1.2) or a reset after the client's part of the handshake (TLS 1.3): either way the certificate is named.
            Assert.Contains("refuse", error.Message, StringComparison.Ordinal);
            Assert.Contains("the client certificate in 'certfile'", error.Message, StringComparison.Ordinal);
            Assert.Contains("is not signed by a CA the server trusts", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(directory, error.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain("s3cr3t-guest", error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task APortNobodyListensOn_IsUnreachable_NotATlsFailure()
    {
        var port = Federation.Testing.Brokers.FreePorts.Next();
        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await ConnectAsync(Uri(port, "guest:guest@", $"cacertfile={Escape(Files.CaFile)}&connection_timeout=2000")));

        Assert.StartsWith("Could not connect to amqps://127.0.0.1:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ManagementApi_OverHttps_IsCheckedAgainstTheSameCaCertFile()
    {
        var uri = $"amqps://guest:guest@127.0.0.1:{fixture.OptionalTlsPort.ToString(CultureInfo.InvariantCulture)}/?cacertfile={Escape(Files.CaFile)}&management-port={fixture.OptionalManagementTlsPort.ToString(CultureInfo.InvariantCulture)}";
        var connection = await transport.ConnectAsync(new ConnectionRequest(uri, "tls-management", ObserveTopology: true), Ct);
        resources.Add(connection);
        var exchange = $"tls.internal.{Guid.NewGuid():N}";

        // Internal exchanges can only be declared through the management API, so this exercises https with cacertfile.
        await connection.DeclareExchangeAsync(new ExchangeSpec(exchange, ExchangeSpec.Types.Fanout, Durable: false, Internal: true), Ct);
        var snapshot = await connection.Topology!.GetSnapshotAsync(Ct);

        Assert.Contains(snapshot.Exchanges, e => e.Name == exchange && e.Internal);
        await connection.DeleteExchangeAsync(exchange, Ct);
    }

    /// <summary>
    /// The connection of its own that removes a message RabbitMQ.Client cannot read connects as the URI says, here over
    /// TLS with a client certificate and EXTERNAL, and removes exactly that message.
    /// </summary>
    [Fact]
    public async Task UnreadableMessageRemoval_ConnectsWithTheSameTlsAndExternal_AndRemovesOnlyTheUnreadableMessage()
    {
        var uri = Uri(fixture.RequiredTlsPort, string.Empty, $"cacertfile={Escape(Files.CaFile)}&certfile={Escape(Files.ClientCertFile)}&keyfile={Escape(Files.ClientKeyFile)}&auth_mechanism=external");
        var connection = (AmqpConnection)await ConnectAsync(uri, "tls-unreadable");
        var queue = $"tls.unreadable.{Guid.NewGuid():N}";
        await connection.DeclareQueueAsync(new QueueSpec(queue, Durable: false), Ct);
        await using var channel = await connection.Client.CreateChannelAsync(cancellationToken: Ct);
        await channel.BasicPublishAsync(string.Empty, queue, false, new RabbitMQ.Client.BasicProperties { MessageId = "readable-1" }, "1"u8.ToArray(), Ct);
        await channel.BasicPublishAsync(string.Empty, queue, false, RawContentHeader.WithFields("unreadable", RawContentHeader.DecimalField("d", 29, 1)), "2"u8.ToArray(), Ct);
        await channel.BasicPublishAsync(string.Empty, queue, false, new RabbitMQ.Client.BasicProperties { MessageId = "readable-2" }, "3"u8.ToArray(), Ct);

        var removed = await UnreadableMessageRemoval.RemoveAsync(AmqpEndpoint.Parse(uri), "tls-unreadable scan", queue, depth: 10, Ct);

        Assert.Contains("scale 29", Assert.Single(removed).Problem, StringComparison.Ordinal);
        var first = await channel.BasicGetAsync(queue, autoAck: true, Ct);
        var second = await channel.BasicGetAsync(queue, autoAck: true, Ct);
        Assert.Equal("readable-1", first?.BasicProperties.MessageId);
        Assert.Equal("readable-2", second?.BasicProperties.MessageId);
        Assert.Null(await channel.BasicGetAsync(queue, autoAck: true, Ct));
        await connection.DeleteQueueAsync(queue, Ct);
    }

    [Fact]
    public async Task A_ca_file_gone_before_the_publishing_connection_opens_fails_the_publisher_naming_the_problem_not_the_path()
    {
        // The publishing connection opens with the first publisher, later than the connection it belongs to, and reads the
        // TLS files again: one removed meanwhile (a rotation half done) is a TLS file problem, said without its path.
        var directory = Directory.CreateTempSubdirectory("federation-secret-dir-");
        var ca = Path.Combine(directory.FullName, "ca.pem");
        File.Copy(Files.CaFile, ca);
        try
        {
            var connection = await ConnectAsync(Uri(fixture.OptionalTlsPort, "guest:guest@", $"cacertfile={Escape(ca)}"));
            File.Delete(ca);

            var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () => await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), Ct));

            Assert.StartsWith("A TLS file (cacertfile, certfile or keyfile) cannot be used: the file does not exist.", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("federation-secret-dir", error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static string Escape(string path) => System.Uri.EscapeDataString(path);

    private static string Uri(int port, string userInfo, string query) =>
        $"amqps://{userInfo}127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/?topology=none{(query.Length > 0 ? "&" + query : string.Empty)}";

    private async Task<IBrokerConnection> ConnectAsync(string uri, string name = "tls-test")
    {
        var connection = await transport.ConnectAsync(new ConnectionRequest(uri, name), Ct);
        resources.Add(connection);
        return connection;
    }
}
