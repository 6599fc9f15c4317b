using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A transport (scheme <c>silent</c>) whose brokers accept the connection and never answer: every connect attempt hangs.
/// With <see cref="IgnoresCancellation"/> it does not even honour its cancellation token, as a badly behaved client library.
/// </summary>
internal sealed class SilentTransport : ITransport
{
    public const string Scheme = "silent";

    private int _attempts;

    public IReadOnlyCollection<string> Schemes { get; } = [Scheme];

    /// <summary>Whether a connect attempt ignores its cancellation token (it then never completes at all).</summary>
    public bool IgnoresCancellation { get; init; }

    /// <summary>Connect attempts made so far.</summary>
    public int Attempts => Volatile.Read(ref _attempts);

    /// <summary>Connect attempts that were cancelled (only counted when cancellation is honoured).</summary>
    public int Cancelled { get; private set; }

    public static string Uri(string host) => $"{Scheme}://user:s3cr3t@{host}/";

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _attempts);
        if (IgnoresCancellation)
        {
            return await new TaskCompletionSource<IBrokerConnection>().Task;
        }

        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Cancelled++;
            throw;
        }

        throw new InvalidOperationException("unreachable");
    }
}
