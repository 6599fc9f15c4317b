using System.Globalization;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests.Tls;

/// <summary>
/// Two RabbitMQ nodes with a TLS listener on 127.0.0.1 and generated certificates: one that asks for a client
/// certificate but accepts connections without one, and one that requires it. Both offer EXTERNAL (from the
/// certificate's common name) besides PLAIN, and know the user <see cref="TestCertificates.ClientUser"/>.
/// </summary>
public sealed class TlsNodesFixture : IAsyncLifetime
{
    private readonly string directory = Directory.CreateTempSubdirectory("fedtest-tls-").FullName;
    private RabbitMqNode? optional;
    private RabbitMqNode? required;

    /// <summary>The generated certificates.</summary>
    public TestCertificates Certificates { get; private set; } = null!;

    /// <summary>The node where a client certificate is optional.</summary>
    public RabbitMqNode Optional => optional ?? throw new InvalidOperationException("Not started.");

    /// <summary>The node's TLS port.</summary>
    public int OptionalTlsPort { get; } = FreePorts.Next();

    /// <summary>The optional node's management API port over https (same certificates).</summary>
    public int OptionalManagementTlsPort { get; } = FreePorts.Next();

    /// <summary>The node that refuses TLS clients without a certificate.</summary>
    public RabbitMqNode Required => required ?? throw new InvalidOperationException("Not started.");

    /// <summary>The node's TLS port.</summary>
    public int RequiredTlsPort { get; } = FreePorts.Next();

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        Certificates = TestCertificates.Create(directory);
        string[] managementTls =
        [
            $"management.ssl.port = {OptionalManagementTlsPort.ToString(CultureInfo.InvariantCulture)}",
            "management.ssl.ip = 127.0.0.1",
            $"management.ssl.cacertfile = {Certificates.CaFile}",
            $"management.ssl.certfile = {Certificates.ServerCertFile}",
            $"management.ssl.keyfile = {Certificates.ServerKeyFile}",
        ];
        var starting = new[] { Start(OptionalTlsPort, requireClientCertificate: false, managementTls), Start(RequiredTlsPort, requireClientCertificate: true, []) };
        try
        {
            await Task.WhenAll(starting);
        }
        finally
        {
            optional = starting[0].IsCompletedSuccessfully ? starting[0].Result : null;
            required = starting[1].IsCompletedSuccessfully ? starting[1].Result : null;
        }

        foreach (var node in new[] { Optional, Required })
        {
            // A password nobody uses: EXTERNAL must log this user in from the certificate alone.
            await Ctl(node, "add_user", TestCertificates.ClientUser, Guid.NewGuid().ToString("N"));
            await Ctl(node, "set_permissions", "-p", "/", TestCertificates.ClientUser, ".*", ".*", ".*");
        }
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        foreach (var node in new[] { optional, required })
        {
            if (node is not null)
            {
                await node.DisposeAsync();
            }
        }

        Directory.Delete(directory, recursive: true);
    }

    /// <summary>Runs rabbitmqctl and returns its output; fails the test when it fails.</summary>
    public static async Task<string> Ctl(RabbitMqNode node, params string[] arguments)
    {
        var result = await node.CtlAsync(CancellationToken.None, arguments);
        Assert.True(result.ExitCode == 0, $"rabbitmqctl {string.Join(' ', arguments)}: {result.Output}");
        return result.Output;
    }

    private Task<RabbitMqNode> Start(int tlsPort, bool requireClientCertificate, string[] more) =>
        RabbitMqNode.StartNewAsync(
            [.. RabbitMqNode.DefaultPlugins, "rabbitmq_auth_mechanism_ssl"],
            [
                $"listeners.ssl.1 = 127.0.0.1:{tlsPort.ToString(CultureInfo.InvariantCulture)}",
                $"ssl_options.cacertfile = {Certificates.CaFile}",
                $"ssl_options.certfile = {Certificates.ServerCertFile}",
                $"ssl_options.keyfile = {Certificates.ServerKeyFile}",
                "ssl_options.verify = verify_peer",
                $"ssl_options.fail_if_no_peer_cert = {(requireClientCertificate ? "true" : "false")}",
                "auth_mechanisms.1 = PLAIN",
                "auth_mechanisms.2 = EXTERNAL",
                "ssl_cert_login_from = common_name",
                .. more,
            ]);
}

/// <summary>The TLS nodes, shared by the TLS tests.</summary>
[CollectionDefinition(Name)]
public sealed class TlsNodesCollection : ICollectionFixture<TlsNodesFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "RabbitMQ TLS nodes";
}
