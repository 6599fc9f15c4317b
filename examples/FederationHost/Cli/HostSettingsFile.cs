using FederationHost.Configuration;
using Microsoft.Extensions.FileProviders.Physical;

namespace FederationHost.Cli;

/// <summary>
/// The appsettings.json the host itself would read: the one in its content root, which is the binary's folder unless
/// <c>--contentRoot DIR</c> (or <c>DOTNET_CONTENTROOT</c> / <c>ASPNETCORE_CONTENTROOT</c>) names another, as for the host.
/// </summary>
internal sealed class HostSettingsFile
{
    private const string ContentRootOption = "--contentRoot";

    private HostSettingsFile(string path) => Path = path;

    /// <summary>The full path of appsettings.json in the content root.</summary>
    public string Path { get; }

    /// <summary>
    /// Takes <c>--contentRoot DIR</c> or <c>--contentRoot=DIR</c> out of <paramref name="args"/>; false with the reason
    /// when the option has no value.
    /// </summary>
    public static bool TryFind(List<string> args, out HostSettingsFile? file, out string? problem)
    {
        string? contentRoot = null;
        for (var i = 0; i < args.Count; i++)
        {
            if (string.Equals(args[i], ContentRootOption, StringComparison.OrdinalIgnoreCase))
            {
                if (i + 1 >= args.Count)
                {
                    file = null;
                    problem = $"{ContentRootOption} needs a directory";
                    return false;
                }

                contentRoot = args[i + 1];
                args.RemoveRange(i, 2);
                i--;
            }
            else if (args[i].StartsWith(ContentRootOption + "=", StringComparison.OrdinalIgnoreCase))
            {
                contentRoot = args[i][(ContentRootOption.Length + 1)..];
                args.RemoveAt(i);
                i--;
            }
        }

        contentRoot ??= Environment.GetEnvironmentVariable("DOTNET_CONTENTROOT") is { Length: > 0 } dotnet ? dotnet
            : Environment.GetEnvironmentVariable("ASPNETCORE_CONTENTROOT") is { Length: > 0 } aspnet ? aspnet
            : AppContext.BaseDirectory;
        file = new HostSettingsFile(System.IO.Path.GetFullPath(System.IO.Path.Combine(contentRoot, "appsettings.json")));
        problem = null;
        return true;
    }

    /// <summary>
    /// The URL <c>status</c> and <c>restart</c> talk to without <c>--url</c>: <c>Host:Url</c> from this file when it names
    /// a fixed port, else <see cref="HostSettings.DefaultUrl"/>.
    /// </summary>
    public string HostUrl()
    {
        if (File.Exists(Path) &&
            JsonSettingsFile.TryRead(new PhysicalFileInfo(new FileInfo(Path)), out var data, out _) &&
            data.TryGetValue("Host:Url", out var url) &&
            Uri.TryCreate(url, UriKind.Absolute, out var parsed) && parsed.Port > 0)
        {
            return parsed.ToString();
        }

        return HostSettings.DefaultUrl;
    }
}
