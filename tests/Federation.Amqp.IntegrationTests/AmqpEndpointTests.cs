namespace Federation.Amqp.IntegrationTests;

/// <summary>URI parsing (RabbitMQ URI spec plus this transport's query parameters); no broker needed.</summary>
public sealed class AmqpEndpointTests
{
    [Theory]
    [InlineData("amqp://h", "/")]
    [InlineData("amqp://h/", "/")]
    [InlineData("amqp://h/%2f", "/")]
    [InlineData("amqp://h/%2Fprod", "/prod")]
    [InlineData("amqp://h/vh", "vh")]
    [InlineData("amqp://h/a%2Fb", "a/b")]
    public void VirtualHost_IsTheDecodedPath(string uri, string expected) => Assert.Equal(expected, AmqpEndpoint.Parse(uri).VirtualHost);

    [Fact]
    public void Defaults_FollowTheSpecAndThisTransport()
    {
        var plain = AmqpEndpoint.Parse("amqp://h");
        var tls = AmqpEndpoint.Parse("amqps://h");

        Assert.Equal((5672, false, "guest", "guest", TimeSpan.FromSeconds(30), 15672, "http", true, "/"), (plain.Port, plain.Tls, plain.User, plain.Password, plain.Heartbeat, plain.ManagementPort, plain.ManagementScheme, plain.TopologyEnabled, plain.EventVirtualHost));
        Assert.Equal((5671, true, "https"), (tls.Port, tls.Tls, tls.ManagementScheme));
        Assert.Equal(TimeSpan.FromSeconds(10), plain.ManagementTimeout);
    }

    [Fact]
    public void Management_timeout_is_read_in_milliseconds() =>
        Assert.Equal(TimeSpan.FromMilliseconds(2500), AmqpEndpoint.Parse("amqp://h/?management-timeout=2500").ManagementTimeout);

    [Fact]
    public void QueryParameters_AndEscapedCredentials_AreRead_ButNeverDisplayed()
    {
        var endpoint = AmqpEndpoint.Parse("amqp://us%40er:p%3Ass@h:5673/vh?heartbeat=5&connection_timeout=1500&management-port=15673&topology=none&event-vhost=events");

        Assert.Equal(("us@er", "p:ss", 5673, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(1500), 15673, false, "events"), (endpoint.User, endpoint.Password, endpoint.Port, endpoint.Heartbeat, endpoint.ConnectionTimeout, endpoint.ManagementPort, endpoint.TopologyEnabled, endpoint.EventVirtualHost));
        Assert.Equal("amqp://h:5673/vh?heartbeat=5&connection_timeout=1500&management-port=15673&topology=none&event-vhost=events", endpoint.DisplayUri);
    }

    [Theory]
    [InlineData("http://h/")]
    [InlineData("amqp:///vh")]
    [InlineData("amqp://h/a/b")]
    [InlineData("amqp://u:secret@h/?heartbeat=soon")]
    public void MalformedUris_ThrowArgumentException_WithoutCredentials(string uri)
    {
        var error = Assert.Throws<ArgumentException>(() => AmqpEndpoint.Parse(uri));

        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("amqps://h/?cafile=/etc/ca.pem", "has the query key 'cafile', which amqp:// and amqps:// URIs do not understand (they accept heartbeat, connection_timeout, server_name_indication, cacertfile, certfile, keyfile, verify, auth_mechanism, management-port, management-scheme, management-timeout, topology, event-vhost)")]
    [InlineData("amqps://h/?verify=verify_host", "has 'verify=verify_host': it must be one of verify_peer, verify_none")]
    [InlineData("amqps://h/?auth_mechanism=amqplain", "has 'auth_mechanism=amqplain': it must be one of plain, external")]
    [InlineData("amqps://h/?cacertfile=/nonexistent/ca.pem", "has 'cacertfile': the file does not exist")]
    [InlineData("amqps://u:secret@h/?certfile=/nonexistent/client.pem", "has 'certfile': the file does not exist")]
    [InlineData("amqps://h/?keyfile=/nonexistent/client.key", "has 'keyfile' without 'certfile': the key belongs to a client certificate")]
    [InlineData("amqp://h/?cacertfile=/nonexistent/ca.pem", "has the query key 'cacertfile', which only amqps:// URIs use (this URI would connect without TLS)")]
    [InlineData("amqp://h/?verify=verify_none", "has the query key 'verify', which only amqps:// URIs use (this URI would connect without TLS)")]
    [InlineData("amqp://h/?auth_mechanism=external", "has 'auth_mechanism=external', which needs an amqps:// URI with a client certificate ('certfile')")]
    [InlineData("amqps://h/?auth_mechanism=external", "has 'auth_mechanism=external' without 'certfile': EXTERNAL authenticates with the client certificate")]
    [InlineData("amqp://h/?connection-timeout=5000", "has the query key 'connection-timeout', which amqp:// and amqps:// URIs do not understand")]
    [InlineData("amqp://h/?heartbeat", "has the query key 'heartbeat' without a value")]
    [InlineData("amqp://h/?heartbeat=5&heartbeat=10", "has the query key 'heartbeat' more than once")]
    [InlineData("amqp://h/?heartbeat=5&HEARTBEAT=10", "has the query key 'HEARTBEAT' more than once")]
    [InlineData("amqp://h/?heartbeat=soon", "has 'heartbeat=soon': it must be an integer from 0 to 65535")]
    [InlineData("amqp://h/?management-port=0", "has 'management-port=0': it must be an integer from 1 to 65535")]
    [InlineData("amqp://h/?management-timeout=0", "has 'management-timeout=0': it must be an integer from 1 to 120000")]
    [InlineData("amqp://h/?management-timeout=120001", "has 'management-timeout=120001': it must be an integer from 1 to 120000")]
    [InlineData("amqp://h/?management-timeout=10s", "has 'management-timeout=10s': it must be an integer from 1 to 120000")]
    [InlineData("amqp://h/?management-scheme=ftp", "has 'management-scheme=ftp': it must be one of http, https")]
    [InlineData("amqp://h/?topology=all", "has 'topology=all': it must be one of events, none")]
    [InlineData("amqp://u:pa?secret@h/", "is ambiguous: the user name or password contains an unencoded")]
    [InlineData("amqp://user:12/secret@host:5672/%2f", "is ambiguous: the user name or password contains an unencoded")]
    [InlineData("amqp://user:12/secret@host", "is ambiguous: the user name or password contains an unencoded")]
    [InlineData("amqp://user:pa#secret@host", "is ambiguous: the user name or password contains an unencoded")]
    [InlineData("amqp://h/a/b", "has a vhost of more than one path segment (encode '/' as %2f)")]
    public void Problems_name_the_query_key_and_never_the_credentials(string uri, string expected)
    {
        var problem = Assert.Single(new AmqpTransport().ValidateUri(uri));

        Assert.StartsWith(expected, problem, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", problem, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => AmqpEndpoint.Parse(uri));
    }

    [Theory]
    [InlineData("amqp://guest:guest@127.0.0.1:5672/%2f?management-port=15672")]
    [InlineData("amqps://u:p@h:5671/vh?heartbeat=0&connection_timeout=2000&server_name_indication=broker.example&management-port=15671&management-scheme=https&management-timeout=5000&topology=none&event-vhost=events")]
    [InlineData("amqp://h/?Heartbeat=5&TOPOLOGY=Events")]
    [InlineData("amqps://h/?verify=verify_none&auth_mechanism=plain")]
    [InlineData("amqps://h/?verify=VERIFY_PEER&auth_mechanism=PLAIN")]
    public void Every_documented_query_key_is_accepted(string uri) => Assert.Empty(new AmqpTransport().ValidateUri(uri));

    [Fact]
    public void TlsFiles_AreRead_AndTheirKeysApplied()
    {
        using var files = new TemporaryTlsFiles();
        var endpoint = AmqpEndpoint.Parse(
            $"amqps://h/?cacertfile={Escape(files.Certificates.CaFile)}&certfile={Escape(files.Certificates.ClientCertFile)}&keyfile={Escape(files.Certificates.ClientKeyFile)}&verify=verify_none&auth_mechanism=external");

        Assert.Equal(
            (files.Certificates.CaFile, files.Certificates.ClientCertFile, files.Certificates.ClientKeyFile, false, true),
            (endpoint.CaCertFile, endpoint.CertFile, endpoint.KeyFile, endpoint.VerifyPeer, endpoint.ExternalAuthentication));
        Assert.True(AmqpEndpoint.Parse("amqps://h").VerifyPeer);
    }

    [Fact]
    public void AMissingKeyFile_IsNamedOnItsOwn_AsIsAMissingCertFile()
    {
        using var files = new TemporaryTlsFiles();
        var missing = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.pem");

        Assert.Equal(["has 'keyfile': the file does not exist"], AmqpEndpoint.Problems($"amqps://h/?certfile={Escape(files.Certificates.ClientCertFile)}&keyfile={Escape(missing)}"));
        Assert.Equal(["has 'certfile': the file does not exist"], AmqpEndpoint.Problems($"amqps://h/?certfile={Escape(missing)}&keyfile={Escape(files.Certificates.ClientKeyFile)}"));
    }

    [Fact]
    public void AKeyFile_ThatIsNotAKey_IsRefusedNamingTheKeys_NotTheContent()
    {
        using var files = new TemporaryTlsFiles();
        var notAKey = files.Write("not-a-key.pem", "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n");

        var problem = Assert.Single(AmqpEndpoint.Problems($"amqps://h/?certfile={Escape(files.Certificates.ClientCertFile)}&keyfile={Escape(notAKey)}"));

        Assert.StartsWith("has 'certfile' and 'keyfile': no PEM certificate with its matching private key could be read", problem, StringComparison.Ordinal);
        Assert.DoesNotContain("c2VjcmV0", problem, StringComparison.Ordinal);
        Assert.DoesNotContain(notAKey, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void ACaCertFile_WithoutCertificates_IsRefused()
    {
        using var files = new TemporaryTlsFiles();
        var empty = files.Write("empty.pem", "no certificates here\n");

        var problem = Assert.Single(AmqpEndpoint.Problems($"amqps://h/?cacertfile={Escape(empty)}"));

        Assert.Equal("has 'cacertfile': it holds no PEM certificate", problem);
    }

    [Fact]
    public void AnUnreadableFile_IsRefusedNamingTheKey()
    {
        using var files = new TemporaryTlsFiles();
        var directory = files.Certificates.Directory; // a directory exists but cannot be read as a file

        var problem = Assert.Single(AmqpEndpoint.Problems($"amqps://h/?cacertfile={Escape(directory)}"));

        Assert.StartsWith("has 'cacertfile': the file cannot be read", problem, StringComparison.Ordinal);
    }

    private static string Escape(string path) => Uri.EscapeDataString(path);

    /// <summary>Generated certificates in a temporary directory, deleted afterwards.</summary>
    private sealed class TemporaryTlsFiles : IDisposable
    {
        public TemporaryTlsFiles() => Certificates = Tls.TestCertificates.Create(Directory.CreateTempSubdirectory("fedtest-tlsfiles-").FullName);

        public Tls.TestCertificates Certificates { get; }

        public string Write(string name, string content)
        {
            var path = Path.Combine(Certificates.Directory, name);
            File.WriteAllText(path, content);
            return path;
        }

        public void Dispose() => Directory.Delete(Certificates.Directory, recursive: true);
    }
}
