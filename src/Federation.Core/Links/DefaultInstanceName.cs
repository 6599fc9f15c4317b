namespace Federation.Core.Links;

/// <summary>
/// The instance name of an engine whose configuration names none: <c>machine:pid</c>, and <c>machine:pid#2</c>,
/// <c>#3</c>... for further engines in the same process, so that status never shows an engine's own name as the holder
/// of a lease another engine holds.
/// </summary>
internal static class DefaultInstanceName
{
    private static int s_engines;

    /// <summary>The name for the next engine created in this process.</summary>
    public static string Next()
    {
        var number = Interlocked.Increment(ref s_engines);
        var name = $"{Environment.MachineName}:{Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        return number == 1 ? name : $"{name}#{number.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
    }
}
