namespace Federation.Core.Links;

/// <summary>
/// The names link states go by outside the library (the <c>federation.link.state</c> metric attribute, health data), and the
/// per-state counts the links gauge and the health check report. They live with the states so that telemetry only ever sees
/// names and counts.
/// </summary>
internal static class LinkStateNames
{
    private static readonly LinkState[] States = Enum.GetValues<LinkState>();

    /// <summary>The lower-case name of <paramref name="state"/>.</summary>
    public static string Of(LinkState state) => state switch
    {
        LinkState.Starting => "starting",
        LinkState.Running => "running",
        LinkState.Error => "error",
        LinkState.Waiting => "waiting",
        _ => "shutdown",
    };

    /// <summary>How many of <paramref name="links"/> are in each state, by name: every state in declaration order, zero included.</summary>
    public static KeyValuePair<string, int>[] CountEach(IEnumerable<LinkStatus> links)
    {
        var counts = new int[States.Length];
        foreach (var link in links)
        {
            counts[(int)link.State]++;
        }

        var named = new KeyValuePair<string, int>[States.Length];
        for (var i = 0; i < States.Length; i++)
        {
            named[i] = new KeyValuePair<string, int>(Of(States[i]), counts[(int)States[i]]);
        }

        return named;
    }
}
