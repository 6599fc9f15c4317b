using System.Globalization;

namespace Federation.Testing.Brokers;

/// <summary>
/// Throw-away PEM certificates made with the <c>openssl</c> command, for brokers that a test starts with TLS: a CA, a
/// server certificate it signs (valid for <c>127.0.0.1</c> and <c>localhost</c>), the same key certified again as expired,
/// a server certificate for another host name, a client certificate it signs, and a second, untrusted CA with a client
/// certificate of its own. Keys are unencrypted PEM (PKCS#8) files beside them.
/// </summary>
public sealed class TestCertificates
{
    private static readonly TimeSpan OpensslDeadline = TimeSpan.FromSeconds(60);

    private TestCertificates(string directory) => Directory = directory;

    /// <summary>The folder holding every file.</summary>
    public string Directory { get; }

    /// <summary>The CA that signs the server and client certificates.</summary>
    public string CaCertFile => Path.Combine(Directory, "ca.pem");

    /// <summary>The server certificate (SAN IP 127.0.0.1, DNS localhost).</summary>
    public string ServerCertFile => Path.Combine(Directory, "server.pem");

    /// <summary>The server certificate's key.</summary>
    public string ServerKeyFile => Path.Combine(Directory, "server-key.pem");

    /// <summary>A client certificate signed by <see cref="CaCertFile"/>.</summary>
    public string ClientCertFile => Path.Combine(Directory, "client.pem");

    /// <summary>The client certificate's key.</summary>
    public string ClientKeyFile => Path.Combine(Directory, "client-key.pem");

    /// <summary>The client certificate and its key in one file.</summary>
    public string ClientCombinedFile => Path.Combine(Directory, "client-combined.pem");

    /// <summary>
    /// The server certificate's key signed by <see cref="CaCertFile"/> for the right names, but valid only in 2020: expired.
    /// </summary>
    public string ExpiredServerCertFile => Path.Combine(Directory, "server-expired.pem");

    /// <summary>
    /// A server certificate signed by <see cref="CaCertFile"/>, valid now, but for <see cref="OtherHostName"/> only (its
    /// subject too): a client connecting to 127.0.0.1 or localhost finds the host name does not match.
    /// </summary>
    public string WrongHostServerCertFile => Path.Combine(Directory, "server-wrong-host.pem");

    /// <summary>The key of <see cref="WrongHostServerCertFile"/>.</summary>
    public string WrongHostServerKeyFile => Path.Combine(Directory, "server-wrong-host-key.pem");

    /// <summary>The only name <see cref="WrongHostServerCertFile"/> is valid for.</summary>
    public static string OtherHostName => "elsewhere.federation.test";

    /// <summary>A CA nothing here trusts.</summary>
    public string UntrustedCaCertFile => Path.Combine(Directory, "untrusted-ca.pem");

    /// <summary>A client certificate signed by <see cref="UntrustedCaCertFile"/>.</summary>
    public string UntrustedClientCertFile => Path.Combine(Directory, "untrusted-client.pem");

    /// <summary>The untrusted client certificate's key.</summary>
    public string UntrustedClientKeyFile => Path.Combine(Directory, "untrusted-client-key.pem");

    /// <summary>The openssl binary: $OPENSSL_BIN or openssl on PATH.</summary>
    public static string Executable =>
        Environment.GetEnvironmentVariable("OPENSSL_BIN") is { Length: > 0 } configured ? configured : "openssl";

    /// <summary>Makes every certificate in <paramref name="directory"/> (created if missing).</summary>
    public static async Task<TestCertificates> CreateAsync(string directory, CancellationToken cancellationToken = default)
    {
        System.IO.Directory.CreateDirectory(directory);
        var certificates = new TestCertificates(directory);
        await certificates.CaAsync("ca", "Federation Test CA", cancellationToken).ConfigureAwait(false);
        await certificates.CaAsync("untrusted-ca", "Federation Untrusted CA", cancellationToken).ConfigureAwait(false);
        await certificates.LeafAsync("server", "127.0.0.1", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n", cancellationToken).ConfigureAwait(false);
        await certificates.ExpiredServerAsync(cancellationToken).ConfigureAwait(false);
        await certificates.LeafAsync("server-wrong-host", OtherHostName, "ca", $"subjectAltName=DNS:{OtherHostName}\nextendedKeyUsage=serverAuth\n", cancellationToken).ConfigureAwait(false);
        await certificates.LeafAsync("client", "federation-client", "ca", "extendedKeyUsage=clientAuth\n", cancellationToken).ConfigureAwait(false);
        await certificates.LeafAsync("untrusted-client", "federation-intruder", "untrusted-ca", "extendedKeyUsage=clientAuth\n", cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(
            certificates.ClientCombinedFile,
            await File.ReadAllTextAsync(certificates.ClientCertFile, cancellationToken).ConfigureAwait(false)
                + await File.ReadAllTextAsync(certificates.ClientKeyFile, cancellationToken).ConfigureAwait(false),
            cancellationToken).ConfigureAwait(false);
        return certificates;
    }

    private Task CaAsync(string name, string commonName, CancellationToken cancellationToken) => OpensslAsync(
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
         "-subj", $"/CN={commonName}", "-keyout", PathOf(name + "-key.pem"), "-out", PathOf(name + ".pem"),
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        cancellationToken);

    private async Task LeafAsync(string name, string commonName, string issuer, string extensions, CancellationToken cancellationToken)
    {
        var extensionFile = await ExtensionFileAsync(name, extensions, cancellationToken).ConfigureAwait(false);
        await OpensslAsync(
            ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", $"/CN={commonName}",
             "-keyout", PathOf(name + "-key.pem"), "-out", PathOf(name + ".csr")],
            cancellationToken).ConfigureAwait(false);
        await OpensslAsync(
            ["x509", "-req", "-in", PathOf(name + ".csr"), "-CA", PathOf(issuer + ".pem"), "-CAkey", PathOf(issuer + "-key.pem"),
             "-set_serial", Random.Shared.NextInt64(1, long.MaxValue).ToString(CultureInfo.InvariantCulture),
             "-days", "2", "-sha256", "-extfile", extensionFile, "-out", PathOf(name + ".pem")],
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The server's request signed for its usual names, valid only in 2020. <c>openssl x509</c> (3.0) can only start a
    /// certificate now, so this goes through <c>openssl ca</c>, which takes explicit dates but wants a database of its own.
    /// </summary>
    private async Task ExpiredServerAsync(CancellationToken cancellationToken)
    {
        var database = PathOf("ca-db");
        System.IO.Directory.CreateDirectory(database);
        await File.WriteAllTextAsync(Path.Combine(database, "index.txt"), string.Empty, cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(database, "serial"), "1000\n", cancellationToken).ConfigureAwait(false);
        var config = Path.Combine(database, "ca.cnf");
        await File.WriteAllTextAsync(config, $"""
            [ca]
            default_ca = test
            [test]
            database = {Path.Combine(database, "index.txt")}
            serial = {Path.Combine(database, "serial")}
            new_certs_dir = {database}
            default_md = sha256
            policy = any
            [any]
            commonName = supplied

            """, cancellationToken).ConfigureAwait(false);
        await OpensslAsync(
            ["ca", "-batch", "-notext", "-config", config, "-cert", CaCertFile, "-keyfile", PathOf("ca-key.pem"),
             "-in", PathOf("server.csr"), "-out", ExpiredServerCertFile, "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
             "-extfile", await ExtensionFileAsync("server-expired", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n", cancellationToken).ConfigureAwait(false)],
            cancellationToken).ConfigureAwait(false);
    }

    private async Task<string> ExtensionFileAsync(string name, string extensions, CancellationToken cancellationToken)
    {
        var extensionFile = PathOf(name + ".ext");
        await File.WriteAllTextAsync(extensionFile, "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n" + extensions, cancellationToken).ConfigureAwait(false);
        return extensionFile;
    }

    private string PathOf(string name) => Path.Combine(Directory, name);

    private static async Task OpensslAsync(IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var result = await ProcessRunner.RunAsync(Executable, arguments, new Dictionary<string, string>(), OpensslDeadline, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"openssl {string.Join(' ', arguments)} failed ({result.ExitCode}): {result.Output}");
        }
    }
}
