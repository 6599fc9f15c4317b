namespace FederationHost.Tests;

/// <summary>A fresh directory under the system temp folder, deleted with everything in it on dispose.</summary>
/// <param name="prefix">The start of the directory's name, saying which tests made it.</param>
public sealed class TemporaryDirectory(string prefix = "federation-badinput-") : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A process still holding a file there; the OS temp cleaner takes it.
        }
    }
}
