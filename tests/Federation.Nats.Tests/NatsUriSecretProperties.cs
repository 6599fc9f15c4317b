using Federation.Core.Transport;
using Federation.Nats.Messaging;
using Federation.Nats.Transport;
using Federation.Transport.Contracts.Secrets;
using FsCheck;
using FsCheck.Fluent;

namespace Federation.Nats.Tests;

/// <summary>
/// The NATS URI parsers (link transport, subject transport) and the official client's options built from them, with random secrets made of every reserved
/// character: they refuse user information that reads two ways instead of taking part of a token for the host (which would
/// go out in a DNS lookup), and their errors never show the secret.
/// </summary>
public sealed class NatsUriSecretProperties
{
    private static readonly Config Quick = Config.QuickThrowOnFailure.WithMaxTest(1000);

    private static readonly Gen<SecretUri> Uris = SecretUris.Uris(SecretUris.Secret, "nats", "tls", "amqp", "");

    [Fact]
    public void The_official_clients_options_name_the_real_host_and_never_carry_the_secret_in_the_url()
    {
        Check.One(Quick, Prop.ForAll(Uris.ToArbitrary(), uri =>
        {
            NatsUriSettings settings;
            try
            {
                settings = NatsUriSettings.Parse(uri.Uri);
            }
            catch (ArgumentException)
            {
                return; // refused before any client option exists (the next property checks the error)
            }

            // The client prints its Url in logs and exceptions: the credentials move to AuthOpts.
            var opts = NatsOptsFactory.Create(settings.ServerUrl, settings.Security, "test", TimeSpan.FromSeconds(1), configure: null);
            SecretUris.AssertAbsent(uri.Secret, opts.Url, "the client's Url");
            Assert.Equal(uri.Host.Trim('[', ']'), new System.Uri(opts.Url).IdnHost.Trim('[', ']'), ignoreCase: true);
        }));
    }

    [Fact]
    public void The_link_transport_refuses_ambiguous_uris_and_never_shows_the_secret()
    {
        Check.One(Quick, Prop.ForAll(Uris.ToArbitrary(), uri =>
        {
            NatsUriSettings settings;
            try
            {
                settings = NatsUriSettings.Parse(uri.Uri);
            }
            catch (ArgumentException error)
            {
                SecretUris.AssertAbsent(uri.Secret, error.Message, "the link transport's error");
                if (uri.AmbiguousUserInfo)
                {
                    Assert.Contains("Percent-encode the user name and the password", error.Message, StringComparison.Ordinal);
                }

                return;
            }

            Assert.False(uri.AmbiguousUserInfo, $"{uri.Uri} was parsed although its user information reads two ways");
            Assert.Equal(uri.Host, settings.Host);
        }));
    }

    [Fact]
    public void The_subject_transport_refuses_ambiguous_uris_and_never_shows_the_secret()
    {
        Check.One(Quick, Prop.ForAll(Uris.ToArbitrary(), uri =>
        {
            try
            {
                NatsSubjectUriSettings.Parse(uri.Uri);
            }
            catch (ArgumentException error)
            {
                SecretUris.AssertAbsent(uri.Secret, error.Message, "the subject transport's error");
                if (uri.AmbiguousUserInfo)
                {
                    Assert.Contains("Percent-encode the user name and the password", error.Message, StringComparison.Ordinal);
                }

                return;
            }

            Assert.False(uri.AmbiguousUserInfo, $"{uri.Uri} was parsed although its user information reads two ways");
        }));
    }

    [Theory]
    [InlineData("nats://TOKA/RETX5@host:4222")]
    [InlineData("nats://user:1234/RETX6@host:4222")]
    [InlineData("tls://TOK#EN@host:4222")]
    public void A_token_with_an_unencoded_slash_is_refused_not_sent_to_dns(string url)
    {
        foreach (var parse in new Action[] { () => NatsUriSettings.Parse(url), () => NatsSubjectUriSettings.Parse(url) })
        {
            var error = Assert.Throws<ArgumentException>(parse);

            Assert.DoesNotContain("RETX", error.Message, StringComparison.Ordinal);
            Assert.Contains("Percent-encode", error.Message, StringComparison.Ordinal);
        }
    }
}
