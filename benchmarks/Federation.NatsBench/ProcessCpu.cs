using System.Globalization;

namespace Federation.NatsBench;

/// <summary>
/// CPU time (user + system) of a set of processes, read from <c>/proc/&lt;pid&gt;/stat</c> (fields 14 and 15, in clock
/// ticks). The set is both nats-servers plus this process, which hosts the load generator and, on the link paths, the
/// link: so a path's CPU is everything the machine spent on it, whichever process did the work.
/// </summary>
internal sealed class ProcessCpu(IReadOnlyList<int> processIds, int clockTicksPerSecond)
{
    /// <summary>The servers named by the script (NATSBENCH_BROKER_PIDS, comma-separated) plus this process.</summary>
    public static ProcessCpu FromEnvironment()
    {
        var pids = (Environment.GetEnvironmentVariable("NATSBENCH_BROKER_PIDS") ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => int.Parse(p, CultureInfo.InvariantCulture))
            .Append(Environment.ProcessId)
            .ToArray();
        var ticks = int.TryParse(Environment.GetEnvironmentVariable("NATSBENCH_CLK_TCK"), CultureInfo.InvariantCulture, out var t) ? t : 100;
        return new ProcessCpu(pids, ticks);
    }

    /// <summary>The processes whose CPU is summed (servers first, this process last).</summary>
    public IReadOnlyList<int> ProcessIds => processIds;

    /// <summary>The summed CPU time of every process in the set, in milliseconds.</summary>
    public double TotalMs()
    {
        long ticks = 0;
        foreach (var pid in processIds)
        {
            ticks += Ticks(pid);
        }

        return ticks * 1000.0 / clockTicksPerSecond;
    }

    private static long Ticks(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state), so utime (14) and stime (15) are fields[11] and fields[12].
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }
}
