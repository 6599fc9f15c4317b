using Federation.Core.Transport;

namespace Federation.Core.Tests.Transport;

public sealed class CredentialRedactionTests
{
    [Fact]
    public void A_user_name_the_broker_names_in_a_refusal_is_removed()
    {
        var text = CredentialRedaction.Redact("403 ACCESS_REFUSED - access to queue 'federation: x -> D:fed' in vhost '/' refused for user 'SecretUser7'", "SecretUser7", "Pw7%x");

        Assert.DoesNotContain("SecretUser7", text, StringComparison.Ordinal);
        Assert.EndsWith("refused for user '<redacted>'", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_short_password_is_removed_only_where_it_stands_as_a_word_so_the_message_stays_readable_and_shows_nothing_of_it()
    {
        var text = CredentialRedaction.Redact("530 NOT_ALLOWED - vhost novhost not found, password o", "shorty", "o");

        Assert.Equal("530 NOT_ALLOWED - vhost novhost not found, password <redacted>", text);
    }

    [Fact]
    public void A_long_credential_is_removed_wherever_it_occurs_even_inside_other_text()
    {
        var text = CredentialRedaction.Redact("auth failed for xS3cr3tPassw0rdx and S3cr3tPassw0rd", "alice", "S3cr3tPassw0rd");

        Assert.Equal("auth failed for x<redacted>x and <redacted>", text);
    }

    [Fact]
    public void The_longer_credential_goes_first_so_a_user_name_inside_the_password_leaves_nothing_of_it()
    {
        var text = CredentialRedaction.Redact("echo: bob-secret-pass", "bob", "bob-secret-pass");

        Assert.Equal("echo: <redacted>", text);
    }

    [Fact]
    public void Uris_in_the_text_lose_their_user_information_too()
    {
        var text = CredentialRedaction.Redact("could not connect to amqp://carol:hunter22@broker:5672/vh", "carol", "hunter22");

        Assert.Equal("could not connect to amqp://broker:5672/vh", text);
    }

    [Theory]
    [InlineData(null, "u", "p", "")]
    [InlineData("", "u", "p", "")]
    [InlineData("nothing to hide", null, null, "nothing to hide")]
    [InlineData("nothing to hide", "", "", "nothing to hide")]
    public void Empty_text_or_credentials_leave_the_text_as_it_is(string? input, string? user, string? password, string expected) =>
        Assert.Equal(expected, CredentialRedaction.Redact(input, user, password));
}
