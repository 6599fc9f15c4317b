using System.Text.RegularExpressions;

namespace Federation.Core.Tests.Readme;

/// <summary>
/// Follows every relative link of a tree's markdown files: the file (or folder) it names must exist, and an
/// <c>#anchor</c> into a markdown file must be one of that file's headings. Absolute URLs (<c>https:</c>,
/// <c>mailto:</c>) are not followed: the check runs offline, and the package READMEs may only use those.
/// </summary>
internal static partial class MarkdownLinkCheck
{
    // Folders that hold no documentation of the repository's own: tools' output, installed packages, git's store.
    private static readonly HashSet<string> SkippedFolders = new(StringComparer.Ordinal)
    {
        ".git", "node_modules", "bin", "obj", "TestResults", "BenchmarkDotNet.Artifacts",
    };

    /// <summary>The markdown files under <paramref name="root"/>, as paths relative to it with '/' separators.</summary>
    public static List<string> MarkdownFiles(string root)
    {
        var files = new List<string>();
        var pending = new Stack<string>([root]);
        while (pending.TryPop(out var directory))
        {
            files.AddRange(Directory.EnumerateFiles(directory, "*.md").Select(f => Path.GetRelativePath(root, f).Replace('\\', '/')));
            foreach (var child in Directory.EnumerateDirectories(directory).Where(d => !SkippedFolders.Contains(Path.GetFileName(d))))
            {
                pending.Push(child);
            }
        }

        files.Sort(StringComparer.Ordinal);
        return files;
    }

    /// <summary>Every link of <paramref name="files"/> that leads nowhere, as <c>file:line: target: why</c>.</summary>
    public static List<string> BrokenLinks(string root, IEnumerable<string> files)
    {
        var parsed = new Dictionary<string, MarkdownFile>(StringComparer.Ordinal);
        MarkdownFile Read(string path) =>
            parsed.TryGetValue(path, out var file) ? file : parsed[path] = MarkdownFile.Parse(File.ReadAllText(path));

        var broken = new List<string>();
        foreach (var relative in files)
        {
            var source = Path.GetFullPath(Path.Combine(root, relative));
            foreach (var (line, target) in Read(source).Links)
            {
                if (IsAbsolute(target))
                {
                    continue;
                }

                var hash = target.IndexOf('#', StringComparison.Ordinal);
                var path = Uri.UnescapeDataString(hash < 0 ? target : target[..hash]);
                var anchor = hash < 0 ? null : target[(hash + 1)..];
                var destination = path.Length == 0 ? source : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, path));
                if (!File.Exists(destination) && !Directory.Exists(destination))
                {
                    broken.Add($"{relative}:{line}: {target}: no file or folder {Path.GetRelativePath(root, destination).Replace('\\', '/')}");
                }
                else if (anchor is not null && destination.EndsWith(".md", StringComparison.OrdinalIgnoreCase) && File.Exists(destination)
                         && !Read(destination).Anchors.Contains(Uri.UnescapeDataString(anchor)))
                {
                    broken.Add($"{relative}:{line}: {target}: {Path.GetRelativePath(root, destination).Replace('\\', '/')} has no heading whose anchor is '{anchor}'");
                }
            }
        }

        return broken;
    }

    // A scheme (https:, mailto:) makes a link absolute: it leaves the repository.
    private static bool IsAbsolute(string target) => Scheme().IsMatch(target);

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9+.-]*:")]
    private static partial Regex Scheme();
}
