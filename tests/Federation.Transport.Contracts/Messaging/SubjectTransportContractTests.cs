using System.Text;
using Federation.Core.Transport.Messaging;
using Xunit;

namespace Federation.Transport.Contracts.Messaging;

/// <summary>
/// The behaviour every <see cref="ISubjectTransport"/> must show, written against <see cref="ISubjectConnection"/> only.
/// Derive once per transport and supply <see cref="ConnectAsync"/>; every subject is unique per test, so the suite can run
/// against one shared server.
/// </summary>
/// <remarks>
/// To prove that something was NOT delivered without sleeping, a test publishes a marker after the messages that must not
/// arrive, to a subject the same subscription receives: messages from one publisher reach one subscription in order, so once
/// the marker arrived, anything published before it that was going to arrive has arrived.
/// </remarks>
public abstract partial class SubjectTransportContractTests : IAsyncLifetime
{
    /// <summary>The body of the marker message.</summary>
    protected const string Marker = "end-marker";

    private readonly List<ISubjectConnection> connections = [];
    private readonly CancellationTokenSource testTimeout = new(TimeSpan.FromMinutes(1));

    /// <summary>How long a test waits for an asynchronous effect.</summary>
    protected virtual TimeSpan Patience => TimeSpan.FromSeconds(10);

    /// <summary>A body size the transport carries (NATS's default <c>max_payload</c> is 1 MiB, headers included).</summary>
    protected virtual int LargeBodySize => 1_000_000;

    /// <summary>Cancelled when the test runs too long.</summary>
    protected CancellationToken Ct => testTimeout.Token;

    /// <summary>Opens a connection to the (one) server under test.</summary>
    protected abstract ValueTask<ISubjectConnection> ConnectAsync(string connectionName, CancellationToken cancellationToken);

    /// <summary>A subject prefix no other test or run uses.</summary>
    protected static string UniqueSubject(string purpose) => $"contract.{purpose}.{Guid.NewGuid():N}";

    /// <inheritdoc />
    public Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        foreach (var connection in connections)
        {
            await connection.DisposeAsync();
        }

        testTimeout.Dispose();
    }

    /// <summary>Opens a connection that is disposed after the test.</summary>
    protected async Task<ISubjectConnection> OpenAsync(string? connectionName = null)
    {
        var connection = await ConnectAsync(connectionName ?? $"contract-{Guid.NewGuid():N}", Ct);
        connections.Add(connection);
        return connection;
    }

    /// <summary>Publishes a message whose body is <paramref name="body"/> in UTF-8.</summary>
    protected Task PublishAsync(ISubjectConnection connection, string subject, string body, IReadOnlyList<KeyValuePair<string, string>>? headers = null, string? replyTo = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return connection.PublishAsync(new SubjectMessage(subject, Encoding.UTF8.GetBytes(body), headers, replyTo), Ct).AsTask();
    }

    /// <summary>Publishes <see cref="Marker"/> to <paramref name="subject"/> and returns what the recorder got before it.</summary>
    protected async Task<IReadOnlyList<string>> ReceivedBeforeMarkerAsync(ISubjectConnection publisher, string subject, SubjectRecorder recorder)
    {
        ArgumentNullException.ThrowIfNull(recorder);
        await PublishAsync(publisher, subject, Marker);
        await Eventually.TrueAsync(() => recorder.Bodies.Contains(Marker), Patience, "the end marker should arrive");
        return [.. recorder.Bodies.TakeWhile(body => body != Marker)];
    }
}
