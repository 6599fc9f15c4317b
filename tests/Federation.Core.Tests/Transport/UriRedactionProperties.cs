using Federation.Core.Collectives;
using Federation.Core.Diagnostics;
using Federation.Core.InMemory;
using Federation.Core.Model;
using Federation.Core.Transport;
using Federation.Transport.Contracts.Secrets;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace Federation.Core.Tests.Transport;

/// <summary>
/// Random secrets made of every reserved character, in every URI shape, never come out of redaction, validation errors,
/// the in-memory parser or logged exceptions; and URIs whose user information reads two ways are refused.
/// </summary>
public class UriRedactionProperties
{
    private static readonly Config Quick = Config.QuickThrowOnFailure.WithMaxTest(1000);

    private static readonly Gen<SecretUri> AnyUri = SecretUris.Uris(SecretUris.Secret, SecretUris.AllSchemes);

    // Fragments of URIs and text, so that arbitrary strings hit every branch of the redaction.
    private static readonly Gen<string> Noise =
        Gen.Elements("amqp://", "nats://", "://", "@", ":", "/", "?", "#", "&", "=", "[", "]", "%", "%4", "token=", "password=", "cacertfile=", " ", "'", "\n", "h", "1", "ü", "😀", "<redacted>")
            .ListOf().Select(string.Concat);

    [Theory]
    [InlineData("nats://h:4222?namespaces=orders&user=sneaky-operator", "nats://h:4222?namespaces=orders&user=<redacted>")]
    [InlineData("amqp://h/%2f?username=sneaky-operator", "amqp://h/%2f?username=<redacted>")]
    public void A_user_name_written_into_the_query_is_not_shown(string uri, string expected)
    {
        // Transports refuse such a key, and their error quotes the redacted URI: user names are never shown.
        Assert.Equal(expected, UriRedaction.Redact(uri));
    }

    [Fact]
    public void Redact_never_shows_a_secret_in_any_uri_shape()
    {
        Check.One(Quick, Prop.ForAll(AnyUri.ToArbitrary(), uri => SecretUris.IsAbsent(uri.Secret, UriRedaction.Redact(uri.Uri))));
    }

    [Fact]
    public void Redact_keeps_host_port_and_vhost_of_unambiguous_uris()
    {
        Check.One(Quick, Prop.ForAll(AnyUri.ToArbitrary(), uri =>
        {
            if (uri.Scheme.Length == 0 || UriUserInfo.FindAmbiguity(uri.Uri) is not null || (!uri.Encoded && uri.Place is SecretPlace.QueryPassword or SecretPlace.QueryToken))
            {
                return true;
            }

            var redacted = UriRedaction.Redact(uri.Uri);
            return redacted.Contains("://" + uri.Host, StringComparison.Ordinal);
        }));
    }

    [Fact]
    public void Redact_never_throws_and_redacting_twice_changes_nothing()
    {
        Check.One(Quick, Prop.ForAll(Noise.ToArbitrary(), text =>
        {
            var once = UriRedaction.Redact(text);
            var twice = UriRedaction.Redact(once);
            var inText = UriRedaction.RedactText(text);
            return once == twice && UriRedaction.RedactText(inText) == inText;
        }));
    }

    [Fact]
    public void Redact_of_a_list_of_uris_shows_no_secret_of_any()
    {
        var lists =
            from first in AnyUri
            from second in AnyUri
            from separator in Gen.Elements(",", ", ", " ")
            select (Text: first.Uri + separator + second.Uri, Secrets: new[] { first.Secret, second.Secret });

        Check.One(Quick, Prop.ForAll(lists.ToArbitrary(), list =>
            list.Secrets.All(secret => SecretUris.IsAbsent(secret, UriRedaction.Redact(list.Text)))));
    }

    [Fact]
    public void RedactText_removes_the_secret_of_every_uri_in_a_sentence()
    {
        var uris = SecretUris.Uris(SecretUris.SecretWithoutWhiteSpace, "amqp", "amqps", "nats", "tls", "memory");
        var sentences =
            from first in uris
            from second in uris
            from template in Gen.Elements(
                "Could not connect to {0}: connection refused (host {1}).",
                "'{0}' and '{1}' are not reachable",
                "None of the specified endpoints were reachable: {0}, {1}\n   at Client.Connect()",
                "Connection to {0} was closed by the broker: 404 NOT_FOUND - no queue 'federation: x -> rabbit@node' ({1})")
            select (Text: string.Format(System.Globalization.CultureInfo.InvariantCulture, template, first.Uri, second.Uri), Secrets: new[] { first.Secret, second.Secret });

        Check.One(Quick, Prop.ForAll(sentences.ToArbitrary(), sentence =>
            sentence.Secrets.All(secret => SecretUris.IsAbsent(secret, UriRedaction.RedactText(sentence.Text)))));
    }

    [Fact]
    public void Validation_errors_never_show_a_secret_and_refuse_ambiguous_user_info()
    {
        Check.One(Quick, Prop.ForAll(AnyUri.ToArbitrary(), Gen.Elements(true, false).ToArbitrary(), (uri, asDownstream) =>
        {
            var options = new FederationOptions();
            options.Upstreams["origin"] = new UpstreamDefinition { Uris = [asDownstream ? "memory://hub" : uri.Uri] };
            options.Downstream.Uri = asDownstream ? uri.Uri : "memory://hub";

            var errors = FederationDefinitions.Validate(options);

            var text = string.Join("\n", errors);
            SecretUris.AssertAbsent(uri.Secret, text, "a validation error");
            if (uri.AmbiguousUserInfo)
            {
                Assert.Contains(errors, e => e.Contains("Percent-encode the user name and the password", StringComparison.Ordinal));
            }

            // The engine refuses the same options with the same redacted errors.
            if (errors.Count > 0)
            {
                var error = Assert.Throws<FederationConfigurationException>(() => new FederationEngine(options, []));
                SecretUris.AssertAbsent(uri.Secret, error.ToString(), "the engine's configuration exception");
            }
        }));
    }

    [Fact]
    public void The_in_memory_parser_refuses_or_parses_the_real_broker_but_never_shows_a_secret()
    {
        var uris = SecretUris.Uris(SecretUris.Secret, "memory");
        Check.One(Quick, Prop.ForAll(uris.ToArbitrary(), uri =>
        {
            InMemoryUri parsed;
            try
            {
                parsed = InMemoryUri.Parse(uri.Uri);
            }
            catch (ArgumentException error)
            {
                SecretUris.AssertAbsent(uri.Secret, error.Message, "the in-memory parser's error");
                return;
            }

            Assert.False(uri.AmbiguousUserInfo, $"{uri.Uri} was parsed although its user information is ambiguous");
            Assert.StartsWith(Uri.UnescapeDataString(uri.Host), parsed.BrokerName, StringComparison.Ordinal);
        }));
    }

    [Fact]
    public void The_in_memory_transport_refused_connection_never_shows_a_secret()
    {
        var uris = SecretUris.Uris(SecretUris.Secret, "memory");
        Check.One(Quick, Prop.ForAll(uris.ToArbitrary(), uri =>
        {
            var registry = new InMemoryBrokerRegistry();
            var broker = registry.GetOrAdd(Uri.UnescapeDataString(uri.Host + (uri.Uri.Contains(uri.Host + ":5672", StringComparison.Ordinal) ? ":5672" : "")));
            broker.AddVirtualHost("vh");
            broker.AddUser("admin", "right");
            var transport = new InMemoryTransport(registry);
            try
            {
                var connected = transport.ConnectAsync(new ConnectionRequest(uri.Uri, "c"), CancellationToken.None).AsTask().GetAwaiter().GetResult();
                connected.DisposeAsync().AsTask().GetAwaiter().GetResult();
                Assert.Fail($"{uri.Uri} connected although the broker only knows admin:right");
            }
            catch (Exception error) when (error is ArgumentException or TransportException)
            {
                SecretUris.AssertAbsent(uri.Secret, error.ToString(), "the in-memory transport's error");
            }
        }));
    }

    [Fact]
    public void Federation_broker_options_errors_never_show_a_secret()
    {
        var uris = SecretUris.Uris(SecretUris.Secret, "nats", "tls", "memory", "");
        Check.One(Quick, Prop.ForAll(uris.ToArbitrary(), uri =>
        {
            var options = new FederationBrokerOptions { ClusterName = "c", FederationUri = uri.Uri, CollectiveUri = uri.Uri };
            SecretUris.AssertAbsent(uri.Secret, string.Join("\n", FederationBrokerOptionsValidation.Validate(options)), "a federation broker option error");
        }));
    }

    [Fact]
    public void A_logged_exception_that_echoes_a_uri_reaches_the_log_redacted()
    {
        var uris = SecretUris.Uris(SecretUris.SecretWithoutWhiteSpace, "amqp", "amqps", "nats", "tls", "memory");
        Check.One(Quick, Prop.ForAll(uris.ToArbitrary(), uri =>
        {
            var thrown = new InvalidOperationException("outer failure", new TransportException($"Could not connect to {uri.Uri}: refused"));
            var logged = RedactedException.For(thrown);

            SecretUris.AssertAbsent(uri.Secret, logged.ToString(), "the logged exception");
            SecretUris.AssertAbsent(uri.Secret, logged.Message, "the logged exception's message");
        }));
    }

    [Fact]
    public void An_exception_without_uris_is_logged_as_it_is()
    {
        var error = new InvalidOperationException("queue 'federation: x -> rabbit@node' not found");
        Assert.Same(error, RedactedException.For(error));
    }

    [Theory]
    [InlineData("amqp://user:1234/RETX6@host:5672/%2f", "amqp://host:5672/%2f")]
    [InlineData("nats://TOKA/RETX5@host:4222", "nats://host:4222")]
    [InlineData("amqp://us@er:p#w?d@host/vh?heartbeat=5", "amqp://host/vh?heartbeat=5")]
    [InlineData("amqp://user:pass@host:5672/vh", "amqp://host:5672/vh")]
    [InlineData("amqps://u:p@[::1]:5671/%2f", "amqps://[::1]:5671/%2f")]
    [InlineData("amqp://host/vh?heartbeat=5&password=a&b=c#d", "amqp://host/vh?heartbeat=5&password=<redacted>")]
    [InlineData("amqp://host/?password=se@cret", "amqp://<redacted>")]
    [InlineData("amqp://user:secret/x", "amqp://<redacted>")]
    [InlineData("user:secret@host:5672", "<redacted>")]
    [InlineData("memory://hub/%2f", "memory://hub/%2f")]
    [InlineData("", "")]
    public void Redact_examples(string uri, string expected) => Assert.Equal(expected, UriRedaction.Redact(uri));

    [Theory]
    [InlineData("Connection 'c' to amqp://host:5672/%2f was closed: no queue 'federation: x -> rabbit@node'", "Connection 'c' to amqp://host:5672/%2f was closed: no queue 'federation: x -> rabbit@node'")]
    [InlineData("Could not connect to amqp://u:p/w@host:5672: refused", "Could not connect to amqp://host:5672: refused")]
    [InlineData("Could not connect to nats://us er:pw@host:4222.", "Could not connect to nats://host:4222.")]
    public void RedactText_examples(string text, string expected) => Assert.Equal(expected, UriRedaction.RedactText(text));

    // A link error quotes its URI already redacted, and the error passes RedactText again on its way to the log, the status
    // and /health: a masked file path must stay one "<redacted>" (it became "<redacted><redacted><redacted>" there).
    [Theory]
    [InlineData("tls://tok@127.0.0.1:4222?cluster-name=t&cacertfile=/etc/ca.pem")]
    [InlineData("tls://127.0.0.1:4222?cacertfile=/etc/ca.pem&verify=verify_peer&creds-file=/etc/u.creds")]
    [InlineData("amqps://u:p@h:5671/%2f?certfile=/c.pem&keyfile=/k.pem&heartbeat=5")]
    public void A_redacted_file_path_stays_one_mask_when_the_text_is_redacted_again(string uri)
    {
        var message = $"the server refused the login (Authorization Violation). URI: {UriRedaction.Redact(uri)}";
        var once = UriRedaction.RedactText(message);

        Assert.Equal(message, once);
        Assert.Equal(once, UriRedaction.RedactText(once));
        Assert.DoesNotContain("<redacted><redacted>", once, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("amqp://user:1234/RETX6@host:5672/%2f")]
    [InlineData("nats://TOKA/RETX5@host:4222")]
    [InlineData("nats://TOK?A@host:4222")]
    [InlineData("nats://TOK#A@host:4222")]
    [InlineData("amqp://us@er:pw@host")]
    [InlineData("amqp://u:p[w]@host")]
    [InlineData("amqp://u:100%@host")]
    [InlineData("amqp://host/v@h")]
    public void Ambiguous_user_info_is_found(string uri) => Assert.NotNull(UriUserInfo.FindAmbiguity(uri));

    [Theory]
    [InlineData("amqp://host/vh")]
    [InlineData("amqp://us%40er:p%2Fw%3F%23@host:5672/%2f")]
    [InlineData("amqp://u:pa:ss@host")]
    [InlineData("nats://token@host:4222")]
    [InlineData("amqp://u:p w+!$&'()*,;=@host")]
    public void Unambiguous_user_info_is_accepted(string uri) => Assert.Null(UriUserInfo.FindAmbiguity(uri));
}
