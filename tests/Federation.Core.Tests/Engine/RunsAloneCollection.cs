namespace Federation.Core.Tests.Engine;

/// <summary>
/// Tests that keep both cores of a 2-core machine busy for minutes (the ownership simulation's twenty engines, the
/// thousand-broker tree) run alone, after the others. Running beside them, the tests that bound a stop or a hand-over in
/// real time measured the thread pool's queue instead: a stop bounded by one drain timeout (5 s) took 24 s while the
/// simulation ran, 7 s otherwise.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAloneCollection
{
    /// <summary>The collection name.</summary>
    public const string Name = "Runs alone (keeps the machine busy)";
}
