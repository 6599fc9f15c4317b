namespace FederationHost.Tests.BadInput;

/// <summary>What the host must do with a bad start-up input.</summary>
public enum StartupOutcome
{
    /// <summary>Exit code 2, one <c>FederationHost:</c> line on stderr naming the key, no stack trace, no secret.</summary>
    Refused,

    /// <summary>
    /// Either <see cref="Refused"/>, or a clean start: then no secret in <c>/federation/links</c>, <c>/health</c>,
    /// <c>/metrics</c> or the output, and SIGTERM stops it with exit code 0. For inputs whose acceptance is legitimate
    /// (a URI that parses although its password holds a reserved character) or platform-dependent.
    /// </summary>
    RefusedOrStarts,
}

/// <summary>One row of the start-up table.</summary>
/// <param name="Name">The row's name, shown as the test case.</param>
/// <param name="Settings">The appsettings.json written to the content root.</param>
/// <param name="Outcome">What the host must do.</param>
/// <param name="Expect">Texts that must all appear on one <c>FederationHost:</c> line of stderr (the key, and the value where it matters).</param>
/// <param name="Secrets">Texts besides <see cref="SettingsDocument.PlantedSecret"/> that must appear nowhere.</param>
/// <param name="Args">Extra command-line arguments.</param>
public sealed record StartupCase(
    string Name,
    SettingsDocument Settings,
    StartupOutcome Outcome,
    IReadOnlyList<string> Expect,
    IReadOnlyList<string> Secrets,
    IReadOnlyList<string> Args)
{
    public override string ToString() => Name;
}
