using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Perfolizer.Metrology;

// Every benchmark class in this assembly is selectable with --filter; allocations are part of every result,
// because the per-message paths are meant to be allocation-free or close to it; in bytes, as goals are set in bytes.
BenchmarkSwitcher
    .FromAssembly(typeof(Program).Assembly)
    .Run(args, DefaultConfig.Instance.AddDiagnoser(MemoryDiagnoser.Default).WithSummaryStyle(SummaryStyle.Default.WithSizeUnit(SizeUnit.B)));
