using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Federation.Nats.Messaging;
using Federation.Nats.Transport;
using NATS.Client.Core;
using NATS.NKeys;

namespace Federation.Nats.Tests.Transport;

/// <summary>Files for the URI tests: a CA, a client certificate with its key (apart and combined), nkey seeds, creds files.</summary>
public sealed class NatsUriSecurityFiles : IDisposable
{
    public NatsUriSecurityFiles()
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=Test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        var now = DateTimeOffset.UtcNow;
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(2));
        File.WriteAllText(CaFile, ca.ExportCertificatePem());

        using var clientKey = RSA.Create(2048);
        var clientRequest = new CertificateRequest("CN=client", clientKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var client = clientRequest.Create(ca, now.AddMinutes(-5), now.AddDays(1), [1, 2, 3, 4]);
        File.WriteAllText(CertFile, client.ExportCertificatePem());
        File.WriteAllText(KeyFile, clientKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(CombinedFile, client.ExportCertificatePem() + "\n" + clientKey.ExportPkcs8PrivateKeyPem());
        using var otherKey = RSA.Create(2048);
        File.WriteAllText(OtherKeyFile, otherKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(NotPemFile, "not a certificate\n");

        using var user = KeyPair.CreatePair(PrefixByte.User);
        Seed = user.GetSeed();
        PublicKey = user.GetPublicKey();
        File.WriteAllText(SeedFile, Seed + "\n");
        File.WriteAllText(SeedAndPublicKeyFile, Seed + "\n" + PublicKey + "\n");
        using var account = KeyPair.CreatePair(PrefixByte.Account);
        AccountSeed = account.GetSeed();
        File.WriteAllText(AccountSeedFile, AccountSeed + "\n");
        File.WriteAllText(CredsFile, $"-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ4In0.c2ln\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n{Seed}\n------END USER NKEY SEED------\n");
        File.WriteAllText(CredsWithoutJwtFile, $"-----BEGIN USER NKEY SEED-----\n{Seed}\n------END USER NKEY SEED------\n");
    }

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("nats-uri-security-").FullName;

    public string CaFile => Path.Combine(Directory, "ca.pem");

    public string CertFile => Path.Combine(Directory, "client.pem");

    public string KeyFile => Path.Combine(Directory, "client-key.pem");

    public string CombinedFile => Path.Combine(Directory, "client-combined.pem");

    public string OtherKeyFile => Path.Combine(Directory, "other-key.pem");

    public string NotPemFile => Path.Combine(Directory, "not.pem");

    public string Missing => Path.Combine(Directory, "missing.pem");

    public string Seed { get; }

    public string PublicKey { get; }

    public string AccountSeed { get; }

    public string SeedFile => Path.Combine(Directory, "user.nk");

    public string SeedAndPublicKeyFile => Path.Combine(Directory, "user-pub.nk");

    public string AccountSeedFile => Path.Combine(Directory, "account.nk");

    public string CredsFile => Path.Combine(Directory, "user.creds");

    public string CredsWithoutJwtFile => Path.Combine(Directory, "nojwt.creds");

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

/// <summary>
/// The TLS and login keys of a NATS URI: what validation refuses (naming the key, never its path nor a secret) and how
/// <see cref="NatsConnectionOptions.Apply(NatsUriSettings, NATS.Client.Core.NatsOpts)"/> maps what it accepts onto the official client's options.
/// </summary>
public sealed class NatsUriSecurityTests(NatsUriSecurityFiles files) : IClassFixture<NatsUriSecurityFiles>
{
    private const string Password = "pa:ss%2Fw0rd";
    private const string DecodedPassword = "pa:ss/w0rd";
    private const string Token = "t0k3n-s3cr3t";
    private readonly NatsTransport _transport = new();

    [Fact]
    public void Every_accepted_combination_has_no_problems()
    {
        string[] uris =
        [
            $"tls://h:4222?cacertfile={files.CaFile}",
            $"nats://h:4222?cacertfile={files.CaFile}",
            $"tls://h:4222?cacertfile={files.CaFile}&certfile={files.CertFile}&keyfile={files.KeyFile}&verify=verify_peer",
            $"tls://h:4222?certfile={files.CombinedFile}",
            "tls://h:4222?verify=verify_none",
            "tls://h:4222?verify=VERIFY_NONE",
            $"nats://h:4222?nkey-seed-file={files.SeedFile}",
            $"nats://h:4222?nkey-seed-file={files.SeedAndPublicKeyFile}",
            $"tls://h:4222?creds-file={files.CredsFile}&cacertfile={files.CaFile}",
            $"nats://fed:{Password}@h:4222?cacertfile={files.CaFile}",
        ];
        foreach (var uri in uris)
        {
            Assert.True(_transport.ValidateUri(uri).Count == 0, $"{uri}: {string.Join("; ", _transport.ValidateUri(uri))}");
        }
    }

    [Fact]
    public void Problems_name_the_key_and_never_its_path_nor_a_secret()
    {
        (string Uri, string Expected)[] cases =
        [
            ($"tls://h?cacertfile={files.Missing}", "has 'cacertfile': the file does not exist"),
            ($"tls://h?cacertfile={files.Directory}", "has 'cacertfile': the file cannot be read (permission denied, or it is a directory)"),
            ($"tls://h?cacertfile={files.NotPemFile}", "has 'cacertfile': it holds no PEM certificate"),
            ($"tls://h?keyfile={files.KeyFile}", "has 'keyfile' without 'certfile': the key belongs to a client certificate"),
            ($"tls://h?certfile={files.CertFile}", "has 'certfile': no PEM certificate with its matching private key could be read"),
            ($"tls://h?certfile={files.CertFile}&keyfile={files.OtherKeyFile}", "has 'certfile' and 'keyfile': no PEM certificate with its matching private key could be read"),
            ($"tls://h?certfile={files.Missing}&keyfile={files.KeyFile}", "has 'certfile': the file does not exist"),
            ($"tls://h?certfile={files.CertFile}&keyfile={files.Missing}", "has 'keyfile': the file does not exist"),
            ("tls://h?verify=yes", "has 'verify=yes': it must be one of verify_peer, verify_none"),
            ("tls://h?cacertfile=", "has an empty 'cacertfile'; leave it out or give a file path"),
            ($"nats://h?nkey-seed-file={files.Missing}", "has 'nkey-seed-file': the file does not exist"),
            ($"nats://h?nkey-seed-file={files.NotPemFile}", "has 'nkey-seed-file': it holds no user nkey seed (a line starting with 'SU')"),
            ($"nats://h?nkey-seed-file={files.AccountSeedFile}", "has 'nkey-seed-file': it holds no user nkey seed (a line starting with 'SU')"),
            ($"nats://h?creds-file={files.Missing}", "has 'creds-file': the file does not exist"),
            ($"nats://h?creds-file={files.CredsWithoutJwtFile}", "has 'creds-file': it holds no user JWT"),
            ($"nats://h?creds-file={files.SeedFile}", "has 'creds-file': it holds no user JWT"),
            ($"nats://fed:{Password}@h?nkey-seed-file={files.SeedFile}", "has a user and password in the user-info and 'nkey-seed-file': a NATS connection logs in one way, so give only one"),
            ($"nats://{Token}@h?creds-file={files.CredsFile}", "has a token in the user-info and 'creds-file': a NATS connection logs in one way"),
            ($"nats://h?nkey-seed-file={files.SeedFile}&creds-file={files.CredsFile}", "has 'nkey-seed-file' and 'creds-file': a NATS connection logs in one way"),
            ($"nats://h?nkey-seed-file={files.Seed}", "has 'nkey-seed-file': the file does not exist"),
            ($"nats://h?token={Token}&cacertfile={files.Missing}", "has 'cacertfile': the file does not exist"),
        ];
        foreach (var (uri, expected) in cases)
        {
            var problems = _transport.ValidateUri(uri);
            Assert.True(problems.Any(p => p.StartsWith(expected, StringComparison.Ordinal)), $"{uri}: expected '{expected}', have: {string.Join(" | ", problems)}");
            // The paths too: the redacted URI masks them, and the AMQP transport never names them either.
            foreach (var secret in new[] { Password, DecodedPassword, Token, files.Seed, files.AccountSeed, files.Directory })
            {
                Assert.DoesNotContain(problems, p => p.Contains(secret, StringComparison.Ordinal));
            }
        }
    }

    [Fact]
    public void Parse_refuses_with_the_redacted_uri_and_no_secret()
    {
        var error = Assert.Throws<ArgumentException>(() => NatsUriSettings.Parse($"nats://fed:{Password}@h:4222?nkey-seed-file={files.SeedFile}"));

        Assert.Contains("a NATS connection logs in one way", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(DecodedPassword, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void User_and_password_leave_the_url_and_go_into_the_auth_options()
    {
        var options = Apply($"nats://fed:{Password}@h:4222?cluster-name=A");

        Assert.Equal("nats://h:4222", options.Url);
        Assert.Equal("fed", options.AuthOpts.Username);
        Assert.Equal(DecodedPassword, options.AuthOpts.Password);
        Assert.Null(options.AuthOpts.Token);
        Assert.Equal(TlsMode.Auto, options.TlsOpts.Mode); // plain nats:// keeps the client's default
    }

    [Fact]
    public void A_token_goes_into_the_auth_options()
    {
        var options = Apply($"nats://{Token}@h:4222");

        Assert.Equal("nats://h:4222", options.Url);
        Assert.Equal(Token, options.AuthOpts.Token);
        Assert.Null(options.AuthOpts.Username);
    }

    [Fact]
    public void Tls_scheme_requires_tls()
    {
        var options = Apply("tls://h:4222");

        Assert.Equal("tls://h:4222", options.Url);
        Assert.Equal(TlsMode.Require, options.TlsOpts.Mode);
        Assert.False(options.TlsOpts.InsecureSkipVerify);
        Assert.Null(options.TlsOpts.CaFile);
    }

    [Fact]
    public void Tls_keys_map_onto_the_tls_options_and_require_tls_even_on_nats_scheme()
    {
        var options = Apply($"nats://h:4222?cacertfile={files.CaFile}&certfile={files.CertFile}&keyfile={files.KeyFile}&verify=verify_none");

        Assert.Equal(TlsMode.Require, options.TlsOpts.Mode);
        Assert.Equal(files.CaFile, options.TlsOpts.CaFile);
        Assert.Equal(files.CertFile, options.TlsOpts.CertFile);
        Assert.Equal(files.KeyFile, options.TlsOpts.KeyFile);
        Assert.True(options.TlsOpts.InsecureSkipVerify);
    }

    [Fact]
    public void A_certfile_without_keyfile_holds_the_key_itself()
    {
        var options = Apply($"tls://h:4222?certfile={files.CombinedFile}");

        Assert.Equal(files.CombinedFile, options.TlsOpts.CertFile);
        Assert.Equal(files.CombinedFile, options.TlsOpts.KeyFile);
    }

    [Fact]
    public void Verify_none_alone_on_nats_scheme_requires_tls()
    {
        var options = Apply("nats://h:4222?verify=verify_none");

        Assert.Equal(TlsMode.Require, options.TlsOpts.Mode);
        Assert.True(options.TlsOpts.InsecureSkipVerify);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_nkey_seed_file_gives_the_seed_and_its_public_key(bool withPublicKeyLine)
    {
        var options = Apply($"nats://h:4222?nkey-seed-file={(withPublicKeyLine ? files.SeedAndPublicKeyFile : files.SeedFile)}");

        Assert.Equal(files.Seed, options.AuthOpts.Seed);
        Assert.Equal(files.PublicKey, options.AuthOpts.NKey);
        Assert.Null(options.AuthOpts.NKeyFile);
    }

    [Fact]
    public void A_creds_file_is_handed_to_the_client()
    {
        var options = Apply($"nats://h:4222?creds-file={files.CredsFile}");

        Assert.Equal(files.CredsFile, options.AuthOpts.CredsFile);
        Assert.Null(options.AuthOpts.Seed);
    }

    [Fact]
    public void Base_options_stay_where_the_uri_is_silent_and_uri_credentials_replace_them_whole()
    {
        var baseOptions = NatsOpts.Default with
        {
            Name = "configured",
            AuthOpts = new NatsAuthOpts { CredsFile = "/configured.creds" },
            TlsOpts = new NatsTlsOpts { CaFile = "/configured-ca.pem", CertBundleFile = "/bundle.p12" },
        };

        var silent = NatsConnectionOptions.Apply(NatsUriSettings.Parse("nats://h:4222"), baseOptions);
        Assert.Equal("configured", silent.Name);
        Assert.Equal("/configured.creds", silent.AuthOpts.CredsFile);
        Assert.Equal("/configured-ca.pem", silent.TlsOpts.CaFile);

        var speaking = NatsConnectionOptions.Apply(NatsUriSettings.Parse($"tls://{Token}@h:4222?cacertfile={files.CaFile}"), baseOptions);
        Assert.Equal(Token, speaking.AuthOpts.Token);
        Assert.Null(speaking.AuthOpts.CredsFile);
        Assert.Equal(files.CaFile, speaking.TlsOpts.CaFile);
        Assert.Equal("/bundle.p12", speaking.TlsOpts.CertBundleFile);
    }

    [Fact]
    public void A_seed_file_that_vanished_after_validation_fails_apply_with_a_file_problem_and_no_secret()
    {
        var copy = Path.Combine(files.Directory, "vanishing.nk");
        File.Copy(files.SeedFile, copy, overwrite: true);
        var settings = NatsUriSettings.Parse($"nats://h:4222?nkey-seed-file={copy}");
        File.Delete(copy);

        var error = Assert.ThrowsAny<Exception>(() => NatsConnectionOptions.Apply(settings, NatsOpts.Default));

        Assert.True(NatsSecurityFiles.IsFileProblem(error));
        Assert.Equal("the file does not exist", NatsSecurityFiles.Describe(error));
    }

    /// <summary>
    /// A file that vanished after validation fails the connect of exchange links and of the Collectives' subject
    /// transport alike, naming the key: never the path, which the redacted URI beside it masks (nor in the inner
    /// exception, which loggers print in full). Each transport checks the files again when it connects; one that goes
    /// between that check and the client reading it fails in <see cref="NatsConnect"/>, which both share.
    /// </summary>
    [Fact]
    public async Task A_file_that_vanished_fails_both_transports_naming_its_key_and_never_its_path()
    {
        var copy = Path.Combine(files.Directory, "vanishing-connect.nk");
        File.Copy(files.SeedFile, copy, overwrite: true);
        var uri = $"nats://127.0.0.1:1?nkey-seed-file={Uri.EscapeDataString(copy)}";
        var settings = NatsUriSettings.Parse(uri);
        Assert.Empty(new NatsSubjectTransport().ValidateUri(uri));
        File.Delete(copy);

        var link = await Assert.ThrowsAnyAsync<Exception>(async () => await _transport.ConnectAsync(new ConnectionRequest(uri, "link"), CancellationToken.None));
        var collective = await Assert.ThrowsAnyAsync<Exception>(async () => await new NatsSubjectTransport().ConnectAsync(new SubjectConnectionRequest(uri, "collective"), CancellationToken.None));
        var raced = await Assert.ThrowsAsync<BrokerUnreachableException>(async () => await NatsConnect.ConnectAsync(
            uri, UriRedaction.Redact(uri), settings.ServerUrl, settings.Security, "raced", TimeSpan.FromSeconds(5), null, o => o, CancellationToken.None));

        Assert.Contains("has 'nkey-seed-file': the file does not exist", link.Message, StringComparison.Ordinal);
        Assert.Contains("has 'nkey-seed-file': the file does not exist", collective.Message, StringComparison.Ordinal);
        Assert.StartsWith("Could not connect to the NATS server: the file of 'nkey-seed-file' cannot be used now: the file does not exist. URI: nats://127.0.0.1:1?nkey-seed-file=", raced.Message, StringComparison.Ordinal);
        foreach (var error in new[] { link, collective, raced })
        {
            Assert.DoesNotContain(files.Directory, error.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain(Uri.EscapeDataString(files.Directory), error.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_settings_print_no_file_path()
    {
        var text = NatsUriSettings.Parse($"tls://h:4222?cacertfile={files.CaFile}&creds-file={files.CredsFile}").Security.ToString();

        Assert.DoesNotContain(files.Directory, text, StringComparison.Ordinal);
        Assert.Contains("Files = cacertfile creds-file", text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_settings_print_no_secret()
    {
        var text = NatsUriSettings.Parse($"nats://fed:{Password}@h:4222").Security.ToString();

        Assert.DoesNotContain(DecodedPassword, text, StringComparison.Ordinal);
        Assert.Contains("Login = user and password", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("creds-file")]
    [InlineData("cacertfile")]
    [InlineData("nkey-seed-file")]
    public async Task A_file_gone_after_validation_fails_the_connect_naming_its_key_not_as_an_invalid_uri(string key)
    {
        // A black-box run of FederationHost deleted a link's creds file after the configuration loaded and restarted the
        // link: it showed "ArgumentException: '...' has 'creds-file': the file does not exist. (Parameter 'uri')", where the
        // README promises a connect failure that names the file's key. The file is checked before anything connects, so a
        // closed port is enough.
        var source = key switch { "creds-file" => files.CredsFile, "cacertfile" => files.CaFile, _ => files.SeedFile };
        var vanishing = Path.Combine(files.Directory, $"vanishing-{Guid.NewGuid():N}");
        File.Copy(source, vanishing);
        var closedPort = global::Federation.Testing.Brokers.FreePorts.Next();
        var uri = $"nats://127.0.0.1:{closedPort}?connect-timeout-ms=2000&{key}={vanishing}";
        Assert.Empty(_transport.ValidateUri(uri)); // as at configuration load
        File.Delete(vanishing);

        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await _transport.ConnectAsync(new ConnectionRequest(uri, "vanished-file"), CancellationToken.None));

        Assert.Contains("cannot be used now", error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{key}': the file does not exist", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(files.Directory, error.ToString(), StringComparison.Ordinal);
    }

    private static NatsOpts Apply(string uri) => NatsConnectionOptions.Apply(NatsUriSettings.Parse(uri), NatsOpts.Default);
}
