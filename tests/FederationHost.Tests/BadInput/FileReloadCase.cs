namespace FederationHost.Tests.BadInput;

/// <summary>One row of the file-reload table: something done to the appsettings.json of a running host.</summary>
/// <param name="Name">The row's name, shown as the test case.</param>
/// <param name="Damage">What is done to the files (the running host's content root is given).</param>
/// <param name="ExpectAnyOf">Acceptable warnings: each entry is a set of texts that must all appear in one record.</param>
public sealed record FileReloadCase(string Name, Func<FileReloadCase.Target, Task> Damage, IReadOnlyList<IReadOnlyList<string>> ExpectAnyOf)
{
    /// <summary>The files of the running host.</summary>
    /// <param name="Host">The host, for rows that wait for its reaction between two steps.</param>
    /// <param name="Directory">Its content root.</param>
    /// <param name="EnvironmentName">Its environment (appsettings.{EnvironmentName}.json is read too).</param>
    public sealed record Target(RunningHost Host, TemporaryDirectory Directory, string EnvironmentName)
    {
        public string Settings => Directory.File("appsettings.json");
    }

    public override string ToString() => Name;
}
