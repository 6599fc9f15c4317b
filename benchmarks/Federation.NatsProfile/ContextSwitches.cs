using System.Runtime.InteropServices;

namespace Federation.NatsProfile;

/// <summary>
/// The process's context switches so far (getrusage, Linux): voluntary ones are mostly a thread parking for want of work,
/// so per forwarded message they show how often the link's threads hand a message to each other and go to sleep.
/// Counted over the whole process, threads that have exited included (/proc/self/status covers the main thread only).
/// </summary>
internal static partial class ContextSwitches
{
    /// <summary>Voluntary and involuntary switches, or null where getrusage is not available.</summary>
    public static (long Voluntary, long Involuntary)? Read()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        return GetRusage(0 /* RUSAGE_SELF */, out var usage) == 0 ? (usage.Nvcsw, usage.Nivcsw) : null;
    }

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRusage(int who, out RUsage usage);

    // struct rusage on 64-bit Linux: two timevals, then fourteen longs.
    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UtimeSec, UtimeUsec, StimeSec, StimeUsec;
        public long Maxrss, Ixrss, Idrss, Isrss, Minflt, Majflt, Nswap, Inblock, Oublock, Msgsnd, Msgrcv, Nsignals;
        public long Nvcsw, Nivcsw;
    }
}
