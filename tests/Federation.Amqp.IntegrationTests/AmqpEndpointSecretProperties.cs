using Federation.Transport.Contracts.Secrets;
using FsCheck;
using FsCheck.Fluent;
using RabbitMQ.Client.Exceptions;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// The endpoint parser with random secrets made of every reserved character: it refuses user information that reads two
/// ways, never takes part of a credential for the host, and its errors and display URI never show the secret. No broker needed.
/// </summary>
public sealed class AmqpEndpointSecretProperties
{
    private static readonly Config Quick = Config.QuickThrowOnFailure.WithMaxTest(1000);

    [Fact]
    public void Parse_refuses_or_reads_the_real_host_and_never_shows_the_secret()
    {
        var uris = SecretUris.Uris(SecretUris.Secret, SecretUris.AllSchemes);
        Check.One(Quick, Prop.ForAll(uris.ToArbitrary(), uri =>
        {
            AmqpEndpoint endpoint;
            try
            {
                endpoint = AmqpEndpoint.Parse(uri.Uri);
            }
            catch (ArgumentException error)
            {
                SecretUris.AssertAbsent(uri.Secret, error.Message, "the parser's error");
                if (uri.AmbiguousUserInfo)
                {
                    Assert.Contains("Percent-encode the user name and the password", error.Message, StringComparison.Ordinal);
                }

                return;
            }

            Assert.False(uri.AmbiguousUserInfo, $"{uri.Uri} was parsed although its user information reads two ways");
            Assert.Equal(uri.Host.Trim('[', ']'), endpoint.Host);
            SecretUris.AssertAbsent(uri.Secret, endpoint.DisplayUri, "the display URI");
        }));
    }

    [Fact]
    public void Connect_errors_never_show_the_secret_even_when_the_client_library_echoes_the_uri()
    {
        var uris = SecretUris.Uris(SecretUris.SecretWithoutWhiteSpace, "amqp", "amqps");
        Check.One(Quick, Prop.ForAll(uris.ToArbitrary(), uri =>
        {
            AmqpEndpoint endpoint;
            try
            {
                endpoint = AmqpEndpoint.Parse(uri.Uri);
            }
            catch (ArgumentException)
            {
                return;
            }

            Exception[] echoes =
            [
                new BrokerUnreachableException(new InvalidOperationException($"Connection failed to {uri.Uri}")),
                new AuthenticationFailureException($"ACCESS_REFUSED for {uri.Uri} with password {endpoint.Password}"),
                // A host that does not resolve is named in the text (from the parsed endpoint, never the raw URI).
                new BrokerUnreachableException(new AggregateException(new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.HostNotFound))),
            ];

            foreach (var echo in echoes)
            {
                var mapped = AmqpErrors.Connect(echo, endpoint.DisplayUri, endpoint.Host, endpoint.User, endpoint.Password);
                SecretUris.AssertAbsent(uri.Secret, mapped.Message, "the mapped connect error");
            }
        }));
    }
}
