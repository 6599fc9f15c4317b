using System.Security.Cryptography;
using Federation.Testing.Brokers;
using NATS.NKeys;

namespace Federation.Nats.Tests.Security;

/// <summary>The ways a <see cref="NatsSecurityLab"/> server can be secured.</summary>
public enum NatsSecurityMode
{
    /// <summary>TLS required; any client may log in.</summary>
    Tls,

    /// <summary>TLS required with a client certificate signed by the lab's CA (<c>verify: true</c>).</summary>
    MutualTls,

    /// <summary>TLS required, with a server certificate signed by the lab's CA that expired in 2020.</summary>
    ExpiredTls,

    /// <summary>TLS required, with a server certificate signed by the lab's CA for another host name only.</summary>
    WrongHostTls,

    /// <summary>Plain TCP; one user with a password.</summary>
    UserPassword,

    /// <summary>Plain TCP; a token.</summary>
    Token,

    /// <summary>Plain TCP; one nkey user.</summary>
    NKey,

    /// <summary>Plain TCP; operator mode (JWTs preloaded in a memory resolver), for creds files.</summary>
    Creds,
}

/// <summary>
/// Everything the TLS and login tests need, made once per test class: certificates (openssl), secrets, nkeys, JWTs and
/// creds files in a temporary folder, and one nats-server per <see cref="NatsSecurityMode"/>, started on first use with
/// a config file (ports come from the command line, loopback only) and stopped with the lab.
/// </summary>
public sealed class NatsSecurityLab : IAsyncLifetime
{
    private readonly Dictionary<NatsSecurityMode, NatsServerProcess> _servers = [];
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>The folder of every file; deleted with the lab.</summary>
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("nats-security-").FullName;

    /// <summary>The certificates.</summary>
    public TestCertificates Certificates { get; private set; } = null!;

    /// <summary>The user of <see cref="NatsSecurityMode.UserPassword"/>.</summary>
    public string User { get; } = "federation";

    /// <summary>Its password: a secret that must appear in no output.</summary>
    public string Password { get; } = "pw-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(12));

    /// <summary>The token of <see cref="NatsSecurityMode.Token"/>: a secret that must appear in no output.</summary>
    public string Token { get; } = "tok-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(12));

    /// <summary>A wrong password or token: it must appear in no output either.</summary>
    public string WrongSecret { get; } = "wrong-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(12));

    /// <summary>The seed of the nkey user the server knows: a secret.</summary>
    public string NKeySeed { get; private set; } = null!;

    /// <summary>A file holding <see cref="NKeySeed"/> only (as <c>nk -gen user</c> writes it).</summary>
    public string NKeySeedFile => Path.Combine(Directory, "user.nk");

    /// <summary>A file holding the seed of a user the server does not know.</summary>
    public string UnknownNKeySeedFile => Path.Combine(Directory, "stranger.nk");

    /// <summary>The seed in <see cref="UnknownNKeySeedFile"/>: a secret.</summary>
    public string UnknownNKeySeed { get; private set; } = null!;

    /// <summary>A creds file for a user of the account the operator-mode server knows.</summary>
    public string CredsFile => Path.Combine(Directory, "user.creds");

    /// <summary>The seed inside <see cref="CredsFile"/>: a secret.</summary>
    public string CredsSeed { get; private set; } = null!;

    /// <summary>A creds file whose account the server does not know (signed by another operator).</summary>
    public string UnknownCredsFile => Path.Combine(Directory, "stranger.creds");

    /// <summary>The secrets that must never appear in a status, a log or an exception.</summary>
    public IReadOnlyList<string> Secrets => [Password, Token, WrongSecret, NKeySeed, UnknownNKeySeed, CredsSeed];

    /// <summary>Makes the certificates, keys and files.</summary>
    public async Task InitializeAsync()
    {
        Certificates = await TestCertificates.CreateAsync(Path.Combine(Directory, "certs"));

        using var nkeyUser = KeyPair.CreatePair(PrefixByte.User);
        using var stranger = KeyPair.CreatePair(PrefixByte.User);
        NKeySeed = nkeyUser.GetSeed();
        UnknownNKeySeed = stranger.GetSeed();
        await File.WriteAllTextAsync(NKeySeedFile, NKeySeed + "\n");
        await File.WriteAllTextAsync(UnknownNKeySeedFile, UnknownNKeySeed + "\n");
        await File.WriteAllTextAsync(Config(NatsSecurityMode.NKey), $$"""authorization { users = [ { nkey: "{{nkeyUser.GetPublicKey()}}" } ] }""" + "\n");

        using var operatorKey = KeyPair.CreatePair(PrefixByte.Operator);
        using var accountKey = KeyPair.CreatePair(PrefixByte.Account);
        using var credsUser = KeyPair.CreatePair(PrefixByte.User);
        CredsSeed = credsUser.GetSeed();
        var operatorJwtFile = Path.Combine(Directory, "operator.jwt");
        await File.WriteAllTextAsync(operatorJwtFile, NatsJwt.Operator(operatorKey, "federation-test-operator"));
        await File.WriteAllTextAsync(CredsFile, NatsJwt.Creds(NatsJwt.User(accountKey, credsUser, "federation"), credsUser));
        await File.WriteAllTextAsync(Config(NatsSecurityMode.Creds), $$"""
            operator: "{{operatorJwtFile}}"
            resolver: MEMORY
            resolver_preload: {
              {{accountKey.GetPublicKey()}}: "{{NatsJwt.Account(operatorKey, accountKey, "federation-test-account")}}"
            }

            """);

        using var otherAccount = KeyPair.CreatePair(PrefixByte.Account);
        using var otherUser = KeyPair.CreatePair(PrefixByte.User);
        await File.WriteAllTextAsync(UnknownCredsFile, NatsJwt.Creds(NatsJwt.User(otherAccount, otherUser, "stranger"), otherUser));

        var tls = $"""cert_file: "{Certificates.ServerCertFile}", key_file: "{Certificates.ServerKeyFile}", timeout: 5""";
        await File.WriteAllTextAsync(Config(NatsSecurityMode.Tls), $"tls {{ {tls} }}\n");
        await File.WriteAllTextAsync(Config(NatsSecurityMode.ExpiredTls), $$"""tls { cert_file: "{{Certificates.ExpiredServerCertFile}}", key_file: "{{Certificates.ServerKeyFile}}", timeout: 5 }""" + "\n");
        await File.WriteAllTextAsync(Config(NatsSecurityMode.WrongHostTls), $$"""tls { cert_file: "{{Certificates.WrongHostServerCertFile}}", key_file: "{{Certificates.WrongHostServerKeyFile}}", timeout: 5 }""" + "\n");
        await File.WriteAllTextAsync(Config(NatsSecurityMode.MutualTls), $$"""tls { {{tls}}, ca_file: "{{Certificates.CaCertFile}}", verify: true }""" + "\n");
        await File.WriteAllTextAsync(Config(NatsSecurityMode.UserPassword), $$"""authorization { user: "{{User}}", password: "{{Password}}" }""" + "\n");
        await File.WriteAllTextAsync(Config(NatsSecurityMode.Token), $$"""authorization { token: "{{Token}}" }""" + "\n");
    }

    /// <summary>The server secured as <paramref name="mode"/>, started on first use.</summary>
    public async Task<NatsServerProcess> ServerAsync(NatsSecurityMode mode)
    {
        await _gate.WaitAsync();
        try
        {
            if (!_servers.TryGetValue(mode, out var server))
            {
                server = await NatsServerProcess.StartAsync("-n", $"secured-{mode}", "-c", Config(mode));
                _servers[mode] = server;
            }

            return server;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops the servers and deletes the folder.</summary>
    public async Task DisposeAsync()
    {
        foreach (var server in _servers.Values)
        {
            await server.DisposeAsync();
        }

        _gate.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    private string Config(NatsSecurityMode mode) => Path.Combine(Directory, $"{mode}.conf");
}
