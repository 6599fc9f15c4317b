using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Running;

// Every benchmark class in this assembly is selectable with --filter; allocations are part of every result,
// because the per-message paths are meant to be allocation-free or close to it.
BenchmarkSwitcher
    .FromAssembly(typeof(Program).Assembly)
    .Run(args, DefaultConfig.Instance.AddDiagnoser(MemoryDiagnoser.Default));
