namespace Federation.Core.Tests.Support;

/// <summary>Files of the repository that tests check (the API baseline, the examples).</summary>
internal static class RepositoryPaths
{
    /// <summary>
    /// The repository root. Walks up from the test binaries; [CallerFilePath] would not do, as CI builds map source paths
    /// away (/_/).
    /// </summary>
    public static string Root()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Federation.Core.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException("Federation.Core.sln not found above " + AppContext.BaseDirectory);
    }
}
