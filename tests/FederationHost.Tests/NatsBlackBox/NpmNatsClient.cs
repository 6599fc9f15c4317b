using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace FederationHost.Tests.NatsBlackBox;

/// <summary>
/// The npm <c>nats</c> client (tests/interop/nats-blackbox-client.mjs) as a long-lived node process, driven one JSON
/// command per line: the third-party client on both ends of every black-box case. Each call waits for the script's
/// answer with a deadline; dispose closes the connections and, if the script does not exit, kills it by its own handle.
/// </summary>
internal sealed class NpmNatsClient : IAsyncDisposable
{
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly Channel<string> _answers = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _errors = new();

    private NpmNatsClient(Process process)
    {
        _process = process;
    }

    /// <summary>One message as the npm client received it: subject, body text and the <c>x-received-from</c> values.</summary>
    public sealed record Received(string Subject, string Body, IReadOnlyList<string> Trail);

    public static NpmNatsClient Start()
    {
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = InteropDirectory(),
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("nats-blackbox-client.mjs");
        var process = new Process { StartInfo = start };
        var client = new NpmNatsClient(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                client._answers.Writer.TryComplete();
            }
            else
            {
                client._answers.Writer.TryWrite(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (client._errors)
            {
                client._errors.AppendLine(e.Data);
            }
        };
        if (!process.Start())
        {
            throw new InvalidOperationException("node could not be started.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return client;
    }

    public Task ConnectAsync(string connection, int port, string? user = null, string? password = null) =>
        DoAsync(new JsonObject { ["op"] = "connect", ["conn"] = connection, ["port"] = port, ["user"] = user, ["pass"] = password });

    public Task SubscribeAsync(string id, string connection, string subject) =>
        DoAsync(new JsonObject { ["op"] = "subscribe", ["id"] = id, ["conn"] = connection, ["subject"] = subject });

    public Task UnsubscribeAsync(string id) =>
        DoAsync(new JsonObject { ["op"] = "unsubscribe", ["id"] = id });

    /// <summary>Publishes one message per body, and returns once the server has them (a flush).</summary>
    public Task PublishAsync(string connection, string subject, IEnumerable<string> bodies) =>
        DoAsync(new JsonObject { ["op"] = "publish", ["conn"] = connection, ["subject"] = subject, ["bodies"] = new JsonArray([.. bodies.Select(b => JsonValue.Create(b))]) });

    /// <summary>Every message subscription <paramref name="id"/> has received so far, in arrival order.</summary>
    public async Task<IReadOnlyList<Received>> ReceivedAsync(string id)
    {
        using var answer = await SendAsync(new JsonObject { ["op"] = "received", ["id"] = id });
        return [.. answer.RootElement.GetProperty("messages").EnumerateArray().Select(m => new Received(
            m.GetProperty("subject").GetString()!,
            m.GetProperty("body").GetString()!,
            [.. m.GetProperty("trail").EnumerateArray().Select(t => t.GetString()!)]))];
    }

    /// <summary>Polls subscription <paramref name="id"/> until <paramref name="condition"/> holds for what it has received.</summary>
    public Task<IReadOnlyList<Received>> WaitForAsync(string id, Func<IReadOnlyList<Received>, bool> condition, string what, TimeSpan? timeout = null) =>
        Eventually.UntilAsync(() => ReceivedAsync(id), condition, what, timeout);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                (await SendAsync(new JsonObject { ["op"] = "close" })).Dispose();
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or TimeoutException or JsonException)
        {
            // The script is gone or stuck: it is killed below.
        }

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            // Only this process, by its own handle.
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    private async Task DoAsync(JsonObject command) => (await SendAsync(command)).Dispose();

    private async Task<JsonDocument> SendAsync(JsonObject command)
    {
        await _process.StandardInput.WriteLineAsync(command.ToJsonString());
        await _process.StandardInput.FlushAsync();
        string line;
        try
        {
            line = await _answers.Reader.ReadAsync().AsTask().WaitAsync(AnswerTimeout);
        }
        catch (Exception ex) when (ex is TimeoutException or ChannelClosedException)
        {
            throw new InvalidOperationException($"nats-blackbox-client.mjs gave no answer to {command.ToJsonString()} ({ex.Message}); stderr: {Errors}", ex);
        }

        var answer = JsonDocument.Parse(line);
        if (!answer.RootElement.GetProperty("ok").GetBoolean())
        {
            var error = answer.RootElement.GetProperty("error").GetString();
            answer.Dispose();
            throw new InvalidOperationException($"npm nats: {command["op"]} failed: {error}");
        }

        return answer;
    }

    private string Errors
    {
        get
        {
            lock (_errors)
            {
                return _errors.ToString();
            }
        }
    }

    private static string InteropDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", "interop");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                return Directory.Exists(Path.Combine(candidate, "node_modules", "nats"))
                    ? candidate
                    : throw new InvalidOperationException($"The npm package 'nats' is not installed: run 'npm ci' in {candidate} (.ci/run does this).");
            }
        }

        throw new DirectoryNotFoundException("tests/interop not found above " + AppContext.BaseDirectory);
    }
}
