using System.Globalization;
using System.Net;
using System.Text;
using Federation.Core.Transport;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// The management API's error bodies are the broker's text, which can name the user (a refusal quotes "refused for user
/// '<name>'"; a proxy in front of it may echo anything). They reach exceptions, and so link status and logs, scrubbed.
/// A local HTTP listener plays the API, so the body is exactly what a refusal may look like.
/// </summary>
public sealed class ManagementApiTests
{
    private const string User = "MgmtUserA7f3";
    private const string Password = "S3cret-pw-9c1e";

    [Theory]
    [InlineData(HttpStatusCode.Unauthorized)] // the "not authorised" path, which explains the tag and permission
    [InlineData(HttpStatusCode.InternalServerError)] // any other refusal
    [InlineData(HttpStatusCode.BadRequest)] // an inequivalent redeclaration (precondition failed)
    public async Task A_refusal_body_naming_the_user_and_the_password_reaches_the_caller_scrubbed(HttpStatusCode status)
    {
        var body = status == HttpStatusCode.BadRequest
            ? $$"""{"error":"bad_request","reason":"PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'x' declared by user '{{User}}' (password {{Password}})"}"""
            : $$"""{"error":"not_authorised","reason":"access to exchange 'x' in vhost '/' refused for user '{{User}}' (password {{Password}})"}""";
        using var api = FakeManagementApi.Start(status, body);
        using var management = new ManagementApi(AmqpEndpoint.Parse(
            $"amqp://{User}:{Password}@127.0.0.1:5672/?management-port={api.Port.ToString(CultureInfo.InvariantCulture)}"));

        var error = await Assert.ThrowsAnyAsync<TransportException>(async () =>
            await management.DeclareExchangeAsync(new ExchangeSpec("x", ExchangeSpec.Types.Fanout, Internal: true), CancellationToken.None));

        Assert.True(error.Message.Contains("user '<redacted>'", StringComparison.Ordinal), error.Message); // the reason is still told
        Assert.DoesNotContain(User, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(HttpStatusCode.Unauthorized)]
    [InlineData(HttpStatusCode.Forbidden)]
    public async Task A_downstream_user_without_the_management_tag_is_told_so_when_the_topology_is_read(HttpStatusCode status)
    {
        // What RabbitMQ 3.10.8 answers a user without the tag. A black-box run of the README saw the downstream's error
        // read only "answered 401 Unauthorized to GET /api/exchanges/down", where the README promises that it names the tag.
        using var api = FakeManagementApi.Start(status, """{"error":"not_authorised","reason":"Not management user"}""");
        using var management = new ManagementApi(AmqpEndpoint.Parse(
            $"amqp://{User}:{Password}@127.0.0.1:5672/down?management-port={api.Port.ToString(CultureInfo.InvariantCulture)}"));

        var error = await Assert.ThrowsAnyAsync<TransportException>(async () => await management.ReadTopologyAsync(CancellationToken.None));

        Assert.StartsWith("ACCESS_REFUSED by the management API at http://127.0.0.1:", error.Message, StringComparison.Ordinal);
        Assert.Contains("the user needs the 'management' tag", error.Message, StringComparison.Ordinal);
        Assert.Contains("Not management user", error.Message, StringComparison.Ordinal);
        Assert.Contains("GET /api/exchanges/down", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(User, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)] // the downstream's topology snapshot
    [InlineData(false)] // the upstream's internal exchange
    public async Task A_user_name_with_a_colon_is_told_that_the_management_api_cannot_log_it_in(bool readTopology)
    {
        // A black-box run logged in over AMQP as 'dn:us@er' (percent-encoded in the URI) and then read "the user needs
        // the 'management' tag", which the user had: HTTP basic authentication splits at the first ':', so RabbitMQ
        // 3.10.8 answers 401 "Login failed" whatever the tags. The error has to name the colon, without the name.
        const string colonUser = "dn:us@er";
        using var api = FakeManagementApi.Start(HttpStatusCode.Unauthorized, """{"error":"not_authorized","reason":"Login failed"}""");
        using var management = new ManagementApi(AmqpEndpoint.Parse(
            $"amqp://{Uri.EscapeDataString(colonUser)}:{Password}@127.0.0.1:5672/down?management-port={api.Port.ToString(CultureInfo.InvariantCulture)}"));

        var error = await Assert.ThrowsAnyAsync<TransportException>(async () =>
        {
            if (readTopology)
            {
                await management.ReadTopologyAsync(CancellationToken.None);
            }
            else
            {
                await management.DeclareExchangeAsync(new ExchangeSpec("x", ExchangeSpec.Types.Fanout, Internal: true), CancellationToken.None);
            }
        });

        Assert.Contains("user name contains ':'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("'management' tag and", error.Message, StringComparison.Ordinal);
        Assert.Contains("Login failed", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(colonUser, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
    }

    /// <summary>Answers every request with one status and body.</summary>
    private sealed class FakeManagementApi : IDisposable
    {
        private readonly HttpListener listener;
        private readonly Task serving;

        private FakeManagementApi(HttpListener listener, int port, HttpStatusCode status, string body)
        {
            this.listener = listener;
            Port = port;
            serving = ServeAsync(status, Encoding.UTF8.GetBytes(body));
        }

        public int Port { get; }

        public static FakeManagementApi Start(HttpStatusCode status, string body)
        {
            var port = Federation.Testing.Brokers.FreePorts.Next();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");
            listener.Start();
            return new FakeManagementApi(listener, port, status, body);
        }

        public void Dispose()
        {
            listener.Close();
            _ = serving.Exception; // Closing ends the loop with an exception; nothing to report.
        }

        private async Task ServeAsync(HttpStatusCode status, byte[] body)
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception) when (!listener.IsListening)
                {
                    return;
                }

                context.Response.StatusCode = (int)status;
                context.Response.ContentType = "application/json";
                await context.Response.OutputStream.WriteAsync(body);
                context.Response.Close();
            }
        }
    }
}
