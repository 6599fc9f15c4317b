using BenchmarkDotNet.Attributes;
using Federation.Core.Links;

namespace Federation.Benchmarks;

/// <summary>
/// The per-delivery cost of deciding how far a link may ack upstream with <c>multiple=true</c> (track, settle, take the
/// ack), with confirms in order and out of order, against one lock-protected set insert and remove per delivery, the
/// bookkeeping a consumer does anyway for each unacked delivery tag. A window of 1,000 deliveries is in flight, as with
/// prefetch 1000.
/// </summary>
[MemoryDiagnoser]
public class AckTrackerBenchmarks
{
    private const int Deliveries = 10_000;
    private const int Window = 1_000;
    private const int AckEvery = 64;

    private readonly HashSet<ulong> unsettled = [];
    private readonly Lock gate = new();

    [Benchmark(Baseline = true, OperationsPerInvoke = Deliveries, Description = "HashSet add + remove per delivery (reference)")]
    public int SetPerDelivery()
    {
        for (ulong tag = 1; tag <= Deliveries; tag++)
        {
            lock (gate)
            {
                unsettled.Add(tag);
            }

            if (tag > Window)
            {
                lock (gate)
                {
                    unsettled.Remove(tag - Window);
                }
            }
        }

        lock (gate)
        {
            var left = unsettled.Count;
            unsettled.Clear();
            return left;
        }
    }

    [Benchmark(OperationsPerInvoke = Deliveries, Description = "Tracker, confirms in order")]
    public ulong InOrder() => Run(reversePairs: false);

    [Benchmark(OperationsPerInvoke = Deliveries, Description = "Tracker, every pair of confirms swapped")]
    public ulong OutOfOrder() => Run(reversePairs: true);

    private static ulong Run(bool reversePairs)
    {
        var tracker = new ContiguousAckTracker();
        ulong acked = 0;
        for (ulong tag = 1; tag <= Deliveries; tag++)
        {
            tracker.Track(tag);
            if (tag > Window)
            {
                var settled = tag - Window;
                tracker.Settle(reversePairs ? (settled % 2 == 1 ? settled + 1 : settled - 1) : settled);
            }

            if (tag % AckEvery == 0 && tracker.TryTakeAck(out var upTo, out _))
            {
                acked = upTo;
            }
        }

        return acked;
    }
}
