using System.Diagnostics;
using System.Globalization;

namespace Federation.Collectives.Bench;

/// <summary>CPU time (user + system) a process has used so far, read from /proc/&lt;pid&gt;/stat (Linux) or the own process.</summary>
internal static class ProcessCpu
{
    // utime and stime are in clock ticks; Linux reports USER_HZ = 100 to user space on every common architecture.
    private const double TicksPerSecond = 100;

    public static TimeSpan Of(int pid)
    {
        if (pid == Environment.ProcessId)
        {
            using var self = Process.GetCurrentProcess();
            return self.TotalProcessorTime;
        }

        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");

            // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / TicksPerSecond);
        }
        catch (IOException)
        {
            return TimeSpan.Zero;
        }
    }

    public static TimeSpan Of(IEnumerable<int> pids) => pids.Aggregate(TimeSpan.Zero, (sum, pid) => sum + Of(pid));

    /// <summary>The 1-minute load average, or "?".</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
