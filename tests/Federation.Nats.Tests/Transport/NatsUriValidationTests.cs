using Federation.Core.Transport;
using Federation.Nats.Transport;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// <see cref="NatsTransport.ValidateUri"/>: what the engine checks when configuration is loaded (no server needed). Query
/// keys the transport does not understand are refused naming the key, never silently ignored.
/// </summary>
public sealed class NatsUriValidationTests
{
    private const string Secret = "s3cr3t-t0ken";
    private readonly NatsTransport _transport = new();

    [Theory]
    [InlineData("nats://127.0.0.1:4222")]
    [InlineData("tls://nats.example:4222")]
    [InlineData($"nats://user:{Secret}@127.0.0.1:4222")]
    [InlineData($"nats://{Secret}@127.0.0.1:4222")]
    [InlineData("nats://127.0.0.1:4222?cluster-name=east&monitor-port=8222&monitor-interval-ms=50&namespaces=orders,billing")]
    [InlineData("nats://127.0.0.1:4222?namespaces=acme.orders,%20billing%20,")]
    public void Accepted_uris_have_no_problems(string uri) => Assert.Empty(_transport.ValidateUri(uri));

    [Theory]
    [InlineData("nats://h:4222?monitor_port=8222", "has the query key 'monitor_port', which nats:// and tls:// URIs do not understand (they accept cluster-name, monitor-port, monitor-interval-ms, namespaces, connect-timeout-ms, ")]
    [InlineData("nats://h:4222?monitor-port=abc", "has 'monitor-port=abc': it must be a port from 1 to 65535")]
    [InlineData("nats://h:4222?monitor-port=8222&monitor-port=8223", "has the query key 'monitor-port' more than once")]
    [InlineData("nats://h:4222?monitor-port=0", "has 'monitor-port=0': it must be a port from 1 to 65535")]
    [InlineData("nats://h:4222?monitor-interval-ms=0", "has 'monitor-interval-ms=0': it must be a positive number of milliseconds")]
    [InlineData("nats://h:4222?cluster-name=", "has an empty 'cluster-name'")]
    [InlineData($"nats://h:4222?user=fed", "has the query key 'user', which is not used to log in; put credentials in the user-info")]
    [InlineData($"nats://h:4222?password={Secret}", "has the query key 'password', which is not used to log in; put credentials in the user-info")]
    [InlineData($"nats://h:4222?token={Secret}", "has the query key 'token', which is not used to log in; put credentials in the user-info")]
    [InlineData($"nats://user:pa?{Secret}@h:4222", "is ambiguous: the user name or password contains an unencoded")]
    [InlineData($"nats://TOKA/{Secret}@h:4222", "is ambiguous: the user name or password contains an unencoded")]
    [InlineData($"nats://user:pa#{Secret}@h:4222", "is ambiguous: the user name or password contains an unencoded")]
    [InlineData("nats://:4222", "is not a valid nats:// or tls:// URI with a host")]
    [InlineData("nats://h:4222?namespaces=orders,a.*", "has 'namespaces' with 'a.*', which is not a subject prefix")]
    [InlineData("nats://h:4222?namespaces=%3E", "has 'namespaces' with '>', which is not a subject prefix")]
    [InlineData("nats://h:4222?namespaces=or%20ders", "has 'namespaces' with 'or ders', which is not a subject prefix")]
    [InlineData("nats://h:4222?namespaces=a..b", "has 'namespaces' with 'a..b', which is not a subject prefix")]
    public void Problems_name_the_key_and_never_the_secret(string uri, string expected)
    {
        var problem = Assert.Single(_transport.ValidateUri(uri));

        Assert.StartsWith(expected, problem, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_refuses_what_validation_refuses_before_any_network_traffic()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(async () =>
            await _transport.ConnectAsync(new ConnectionRequest($"nats://127.0.0.1:1?token={Secret}", "t"), CancellationToken.None));

        Assert.Contains("'token'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, error.Message, StringComparison.Ordinal);
    }
}
