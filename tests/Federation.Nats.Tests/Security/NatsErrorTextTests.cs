using Federation.Core.Transport;
using Federation.Nats.JetStream;
using Federation.Nats.Messaging;
using Federation.Nats.Transport;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Security;

/// <summary>
/// A client or server text that echoes a credential of the connection (user name, password, token from the URI) never
/// reaches our exceptions, their inner exceptions (loggers print them in full), link status or logs.
/// </summary>
public sealed class NatsErrorTextTests
{
    private const string User = "federation-operator";
    private const string Password = "Xq9-very-secret-password";
    private const string Token = "tok-0123456789abcdef";

    private static readonly NatsOpts WithUser = NatsOpts.Default with { AuthOpts = NatsAuthOpts.Default with { Username = User, Password = Password } };
    private static readonly NatsOpts WithToken = NatsOpts.Default with { AuthOpts = NatsAuthOpts.Default with { Token = Token } };

    [Fact]
    public void A_subject_connection_failure_that_echoes_the_user_and_password_shows_neither()
    {
        var error = NatsSubjectConnection.Translate(new NatsException($"server said: user {User} with password {Password} may not"), "orders.new", WithUser);

        AssertClean(error);
        Assert.Contains("server said", error.Message, StringComparison.Ordinal); // the rest of the reason stays
    }

    [Fact]
    public void A_refused_login_whose_text_names_the_user_shows_no_credential()
    {
        var error = NatsSubjectConnection.Translate(new NatsServerException($"Authorization Violation for {User}"), subject: null, WithUser);

        AssertClean(error);
    }

    [Fact]
    public void A_publish_failure_that_echoes_the_token_does_not_show_it()
    {
        var error = NatsBrokerConnection.ToPublishFailure(new NatsException($"write failed for nats://{Token}@127.0.0.1:4222 ({Token})"), WithToken);

        AssertClean(error);
    }

    [Fact]
    public void A_jetstream_failure_that_echoes_the_password_does_not_show_it()
    {
        var error = JetStreamErrors.Map(new NatsException($"request failed: {Password}"), "create the stream 'x'", "nats://127.0.0.1:4222", WithUser);

        AssertClean(error);
    }

    [Fact]
    public void Credentials_in_the_url_the_client_was_given_are_removed_too()
    {
        var opts = NatsOpts.Default with { Url = $"nats://{User}:{Password}@127.0.0.1:4222" };

        Assert.Equal("refused <redacted> / <redacted>", NatsErrorText.Scrub($"refused {User} / {Password}", opts));
    }

    [Fact]
    public void A_connect_failure_keeps_no_inner_exception_that_holds_a_piece_of_the_user_part()
    {
        var raw = $"nats://{User}:{Password}@127.0.0.1:4222";

        var error = NatsConnectErrors.Unreachable(raw, "nats://127.0.0.1:4222", new InvalidOperationException($"cannot connect as {User}:{Password}"));

        AssertClean(error);
    }

    [Fact]
    public void A_refused_login_whose_server_text_names_the_user_shows_no_credential()
    {
        var security = new NatsSecuritySettings { User = User, Password = Password };

        var error = NatsSecurityFailure.ToTransportException(new NatsServerException($"Authorization Violation for {User} with {Password}"), security, "nats://127.0.0.1:4222");

        Assert.IsType<AuthenticationFailedException>(error);
        AssertClean(error);
    }

    private static void AssertClean(Exception error)
    {
        var text = error.ToString(); // message and inner exceptions, as a logger prints them
        Assert.DoesNotContain(Password, text, StringComparison.Ordinal);
        Assert.DoesNotContain(User, text, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, text, StringComparison.Ordinal);
    }
}
