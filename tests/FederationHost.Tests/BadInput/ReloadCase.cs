namespace FederationHost.Tests.BadInput;

/// <summary>One row of the reload table: a change to the running (good) configuration that must be refused.</summary>
/// <param name="Name">The row's name, shown as the test case.</param>
/// <param name="Change">Turns a copy of <see cref="ReloadCases.Baseline"/> into the bad configuration.</param>
/// <param name="Expect">Texts that must all appear in one warning (or error) log record.</param>
/// <param name="Secrets">Texts besides the baseline's planted secret that must appear nowhere.</param>
public sealed record ReloadCase(string Name, Action<Dictionary<string, string?>> Change, IReadOnlyList<string> Expect, IReadOnlyList<string> Secrets)
{
    public override string ToString() => Name;
}
