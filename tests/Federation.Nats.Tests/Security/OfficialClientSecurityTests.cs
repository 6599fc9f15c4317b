using System.Globalization;
using System.Text;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Security;

/// <summary>
/// The TLS and login settings of a NATS URI, mapped by <see cref="NatsConnectionOptions.Apply(NatsUriSettings, NATS.Client.Core.NatsOpts)"/>, against real
/// nats-servers secured each way, connecting with the official client (<see cref="NatsConnection"/>) directly. This
/// proves the certificates, the server configs and the mapping; <see cref="NatsTransportSecurityTests"/> proves the
/// transport and the link on top of them.
/// </summary>
public sealed class OfficialClientSecurityTests(NatsSecurityLab lab) : IClassFixture<NatsSecurityLab>
{
    // The process's first TLS handshake loads OpenSSL and the system store: seconds on a loaded machine.
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(20);

    private readonly CapturingLoggerFactory _logs = new();

    public static TheoryData<NatsSecurityMode, string> Working => new()
    {
        { NatsSecurityMode.Tls, "tls://{host}?cacertfile={ca}" },
        { NatsSecurityMode.Tls, "nats://{host}?cacertfile={ca}" }, // a TLS key on nats:// requires TLS
        { NatsSecurityMode.Tls, "tls://{host}?verify=verify_none" },
        { NatsSecurityMode.Tls, "tls://{host}?cacertfile={ca}&verify=verify_peer" },
        { NatsSecurityMode.MutualTls, "tls://{host}?cacertfile={ca}&certfile={cert}&keyfile={key}" },
        { NatsSecurityMode.MutualTls, "tls://{host}?cacertfile={ca}&certfile={combined}" },
        { NatsSecurityMode.MutualTls, "tls://{host}?verify=verify_none&certfile={cert}&keyfile={key}" },
        { NatsSecurityMode.UserPassword, "nats://{user}:{password}@{host}" },
        { NatsSecurityMode.Token, "nats://{token}@{host}" },
        { NatsSecurityMode.NKey, "nats://{host}?nkey-seed-file={seedfile}" },
        { NatsSecurityMode.Creds, "nats://{host}?creds-file={creds}" },
    };

    /// <summary>Settings the server refuses, with what <see cref="NatsSecurityFailure.Describe"/> must say (" … " separates the parts that must appear in order).</summary>
    public static TheoryData<NatsSecurityMode, string, string> Refused => new()
    {
        { NatsSecurityMode.Tls, "tls://{host}", "the server's TLS certificate was not accepted: unknown CA: the certificate 'CN=127.0.0.1' (issued by 'CN=Federation Test CA') is not signed by a CA in this machine's trust store; set 'cacertfile' to the CA that signed it" }, // our CA is not in the system store
        { NatsSecurityMode.Tls, "tls://{host}?cacertfile={untrustedca}", "the server's TLS certificate was not accepted: untrusted CA: the certificate 'CN=127.0.0.1' (issued by 'CN=Federation Test CA') is not signed by a CA in 'cacertfile'" },
        { NatsSecurityMode.ExpiredTls, "tls://{host}?cacertfile={ca}", "the server's TLS certificate was not accepted: expired: the certificate 'CN=127.0.0.1' was valid until 2020-01-02 00:00:00Z" },
        { NatsSecurityMode.ExpiredTls, "tls://{host}", "the server's TLS certificate was not accepted: expired: the certificate 'CN=127.0.0.1' was valid until 2020-01-02 00:00:00Z … unknown CA" },
        { NatsSecurityMode.WrongHostTls, "tls://{host}?cacertfile={ca}", "the server's TLS certificate was not accepted: host name mismatch: the certificate 'CN=elsewhere.federation.test' is not valid for '127.0.0.1', the host this URI connects to (it names DNS:elsewhere.federation.test)" },
        { NatsSecurityMode.MutualTls, "tls://{host}?cacertfile={ca}", "the server requires a client certificate and none was sent (sslv3 alert bad certificate): set 'certfile' and 'keyfile'" },
        { NatsSecurityMode.MutualTls, "tls://{host}?cacertfile={ca}&certfile={untrustedcert}&keyfile={untrustedkey}", "the client certificate was refused by the server (sslv3 alert bad certificate): the certificate 'CN=federation-intruder' in 'certfile' (issued by 'CN=Federation Untrusted CA') is not signed by a CA the server trusts" },
        { NatsSecurityMode.Token, "tls://{token}@{host}", "the server does not offer TLS, and this URI requires it (tls:// or a TLS key)" },
        { NatsSecurityMode.Token, "nats://{token}@{host}?cacertfile={ca}", "the server does not offer TLS, and this URI requires it (tls:// or a TLS key)" },
        { NatsSecurityMode.UserPassword, "nats://{user}:{wrong}@{host}", "the server refused the login (Authorization Violation): check the user and password in the user-info" },
        { NatsSecurityMode.UserPassword, "nats://{host}", "the server refused the login (Authorization Violation): the URI has no credentials" },
        { NatsSecurityMode.Token, "nats://{wrong}@{host}", "the server refused the login (Authorization Violation): check the token in the user-info" },
        { NatsSecurityMode.NKey, "nats://{host}?nkey-seed-file={strangerseedfile}", "the server refused the login (Authorization Violation): the server does not know the nkey of the seed in 'nkey-seed-file'" },
        { NatsSecurityMode.Creds, "nats://{host}?creds-file={strangercreds}", "the server refused the login (Authorization Violation): the server does not accept the user JWT in 'creds-file'" },
    };

    [Theory]
    [MemberData(nameof(Working))]
    public async Task A_uri_with_the_right_settings_connects_and_round_trips(NatsSecurityMode mode, string template)
    {
        var server = await lab.ServerAsync(mode);
        var tls = new NatsTlsDiagnosis();
        await using var connection = new NatsConnection(Options(NatsUriSettings.Parse(UriFor(lab, server, template)), tls));
        await connection.ConnectAsync();
        Assert.Null(tls.Rejection);

        Assert.Equal(mode is NatsSecurityMode.Tls or NatsSecurityMode.MutualTls, connection.ServerInfo!.TlsRequired);
        await using var subscription = await connection.SubscribeCoreAsync<byte[]>("secured.check");
        await connection.PingAsync();
        await connection.PublishAsync("secured.check", "hello"u8.ToArray());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var message = await subscription.Msgs.ReadAsync(timeout.Token);
        Assert.Equal("hello", Encoding.UTF8.GetString(message.Data!));
        SecretAssert.NoneIn(lab, _logs.Text, "the client's log");
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_uri_with_wrong_settings_is_refused_naming_the_cause_without_a_secret(NatsSecurityMode mode, string template, string cause)
    {
        var server = await lab.ServerAsync(mode);
        var settings = NatsUriSettings.Parse(UriFor(lab, server, template));
        var tls = new NatsTlsDiagnosis();
        await using var connection = new NatsConnection(Options(settings, tls));

        var error = await Assert.ThrowsAnyAsync<Exception>(async () => await connection.ConnectAsync());

        var described = NatsSecurityFailure.Describe(error, settings.Security, tls.Rejection);
        Assert.NotNull(described);
        var at = 0;
        foreach (var part in cause.Split(" … "))
        {
            var found = described.IndexOf(part, at, StringComparison.Ordinal);
            Assert.True(found >= 0, $"'{part}' in: {described}");
            at = found + part.Length;
        }

        Assert.Equal(cause.Contains("login", StringComparison.Ordinal), NatsSecurityFailure.IsLoginRefused(error));
        SecretAssert.NoneIn(lab, described, "the description");
        var transportError = NatsSecurityFailure.ToTransportException(error, settings.Security, "nats://shown", tls.Rejection);
        Assert.NotNull(transportError);
        Assert.Equal($"Could not connect to the NATS server: {described}. URI: nats://shown", transportError.Message);
        Assert.Equal(NatsSecurityFailure.IsLoginRefused(error), transportError is global::Federation.Core.Transport.AuthenticationFailedException);
        SecretAssert.NoneIn(lab, error.ToString(), "the exception");
        SecretAssert.NoneIn(lab, _logs.Text, "the client's log");
    }

    [Fact]
    public async Task A_file_that_vanished_after_validation_is_named_as_the_cause()
    {
        var server = await lab.ServerAsync(NatsSecurityMode.Creds);
        var creds = Path.Combine(lab.Directory, "vanishing.creds");
        File.Copy(lab.CredsFile, creds, overwrite: true);
        var settings = NatsUriSettings.Parse(UriFor(lab, server, "nats://{host}?creds-file=" + creds));
        File.Delete(creds);
        await using var connection = new NatsConnection(Options(settings));

        var error = await Assert.ThrowsAnyAsync<Exception>(async () => await connection.ConnectAsync());

        var described = NatsSecurityFailure.Describe(error, settings.Security);
        // Named by its key, not its path: the redacted URI masks the path, as the AMQP transport never names it.
        Assert.Equal("the file of 'creds-file' cannot be used now: the file does not exist", described);
        Assert.DoesNotContain(lab.Directory, described, StringComparison.Ordinal);
        SecretAssert.NoneIn(lab, error.ToString(), "the exception");
    }

    /// <summary>
    /// <paramref name="template"/> with its placeholders filled in: <c>{host}</c> the server's loopback address, the file
    /// placeholders the lab's files, <c>{password}</c>, <c>{token}</c>, <c>{wrong}</c> its secrets.
    /// </summary>
    internal static string UriFor(NatsSecurityLab lab, NatsServerProcess server, string template) => template
        .Replace("{host}", "127.0.0.1:" + server.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace("{untrustedca}", lab.Certificates.UntrustedCaCertFile, StringComparison.Ordinal)
        .Replace("{untrustedcert}", lab.Certificates.UntrustedClientCertFile, StringComparison.Ordinal)
        .Replace("{untrustedkey}", lab.Certificates.UntrustedClientKeyFile, StringComparison.Ordinal)
        .Replace("{ca}", lab.Certificates.CaCertFile, StringComparison.Ordinal)
        .Replace("{cert}", lab.Certificates.ClientCertFile, StringComparison.Ordinal)
        .Replace("{key}", lab.Certificates.ClientKeyFile, StringComparison.Ordinal)
        .Replace("{combined}", lab.Certificates.ClientCombinedFile, StringComparison.Ordinal)
        .Replace("{user}", lab.User, StringComparison.Ordinal)
        .Replace("{password}", lab.Password, StringComparison.Ordinal)
        .Replace("{token}", lab.Token, StringComparison.Ordinal)
        .Replace("{wrong}", lab.WrongSecret, StringComparison.Ordinal)
        .Replace("{strangerseedfile}", lab.UnknownNKeySeedFile, StringComparison.Ordinal)
        .Replace("{seedfile}", lab.NKeySeedFile, StringComparison.Ordinal)
        .Replace("{strangercreds}", lab.UnknownCredsFile, StringComparison.Ordinal)
        .Replace("{creds}", lab.CredsFile, StringComparison.Ordinal);

    /// <summary>The options the transports build for <paramref name="settings"/>, with the certificate check watched by <paramref name="tls"/> when given.</summary>
    private NatsOpts Options(NatsUriSettings settings, NatsTlsDiagnosis? tls = null)
    {
        var opts = NatsConnectionOptions.Apply(
            settings,
            NatsOpts.Default with { Name = "security-test", ConnectTimeout = ConnectTimeout, MaxReconnectRetry = 0, RetryOnInitialConnect = false, LoggerFactory = _logs });
        return tls is null ? opts : opts with { TlsOpts = tls.Watch(opts.TlsOpts, opts.Url) };
    }
}
