using BenchmarkDotNet.Attributes;
using Federation.Core.Addressing;

namespace Federation.Benchmarks;

/// <summary>
/// Topic-pattern matching as the in-memory broker routes (and as NATS subjects will map), against an ordinal string
/// comparison of the same key: the cost of a direct-exchange match.
/// </summary>
[MemoryDiagnoser]
public class TopicMatchingBenchmarks
{
    // Separate instances held in fields, so the JIT cannot fold the baseline comparison away.
    private readonly string key = string.Concat("orders.eu.", "west.created");
    private readonly string directBindingKey = string.Concat("orders.", "eu.west.created");

    private string Key => key;

    [Benchmark(Baseline = true, Description = "Ordinal equality (direct match)")]
    public bool Equality() => string.Equals(directBindingKey, key, StringComparison.Ordinal);

    [Benchmark(Description = "Literal pattern")]
    public bool Literal() => TopicGrammar.Matches("orders.eu.west.created", Key);

    [Benchmark(Description = "orders.*.*.created")]
    public bool Stars() => TopicGrammar.Matches("orders.*.*.created", Key);

    [Benchmark(Description = "orders.#")]
    public bool TrailingHash() => TopicGrammar.Matches("orders.#", Key);

    [Benchmark(Description = "#.west.#.created (backtracking)")]
    public bool Backtracking() => TopicGrammar.Matches("#.west.#.created", Key);

    [Benchmark(Description = "orders.*.east.# (miss)")]
    public bool Miss() => TopicGrammar.Matches("orders.*.east.#", Key);
}
