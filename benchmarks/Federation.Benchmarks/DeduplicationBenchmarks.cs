using System.Text;
using BenchmarkDotNet.Attributes;
using Federation.Core.Hops;
using Federation.Core.Links.Deduplication;
using Federation.Core.Transport;

namespace Federation.Benchmarks;

/// <summary>
/// The per-message CPU cost of duplicate suppression on a link, against the properties copy every forward makes anyway:
/// the identity (fingerprint of a 256-byte message without a message-id, or the message-id alone) and the window check
/// and insert. The ledger write is one record per committed batch on the downstream, measured end to end in
/// <see cref="LinkThroughputBenchmarks"/>.
/// </summary>
[MemoryDiagnoser]
public class DeduplicationBenchmarks
{
    private static readonly byte[] Body = new byte[256];
    private readonly MessageProperties withoutId = new()
    {
        ContentType = "application/json",
        Persistent = true,
        Timestamp = DateTimeOffset.UnixEpoch,
        Headers = new(StringComparer.Ordinal)
        {
            ["tenant"] = "eu-west",
            ["attempt"] = 1,
            [HopHeaders.ReceivedFrom] = new List<object?> { new Dictionary<string, object?>(StringComparer.Ordinal) { ["uri"] = "amqp://upstream", ["exchange"] = "orders" } },
        },
    };

    private readonly MessageProperties withId = new() { MessageId = "order-000042", Persistent = true };
    private readonly DuplicateWindow window = new(100_000, TimeSpan.FromHours(24));
    private readonly LedgerEntry[] one = new LedgerEntry[1];
    private long next;

    [GlobalSetup]
    public void SetUp()
    {
        // A full window, as on a busy link.
        window.Add(Enumerable.Range(0, 100_000).Select(i => new LedgerEntry((UInt128)i, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())), DateTimeOffset.UtcNow);
        Encoding.ASCII.GetBytes("payload").CopyTo(Body, 0);
    }

    [Benchmark(Baseline = true, Description = "Clone (every forward copies the properties)")]
    public MessageProperties Clone() => withoutId.Clone();

    [Benchmark(Description = "Identity: fingerprint, no message-id, 256 B body, 3 headers")]
    public UInt128 Fingerprint() => DeliveryFingerprint.Of("orders.created", withoutId, Body);

    [Benchmark(Description = "Identity: message-id")]
    public UInt128 MessageId() => DeliveryFingerprint.Of("orders.created", withId, Body);

    [Benchmark(Description = "Window: check a miss and add it (full window of 100,000)")]
    public bool CheckAndAdd()
    {
        var now = DateTimeOffset.UtcNow;
        var identity = (UInt128)(1_000_000 + next++);
        var seen = window.Contains(identity, now);
        one[0] = new LedgerEntry(identity, now.ToUnixTimeMilliseconds());
        window.Add(one, now);
        return seen;
    }
}
