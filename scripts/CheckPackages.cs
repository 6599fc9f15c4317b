// Checks every .nupkg in a folder, as a consumer of the packages would meet them (run by scripts/check-packages.sh):
// the README and the icon are in the package, named in the nuspec, and the README links nowhere relative; each dll has its XML doc file next to it; the nuspec lists the
// dependencies the project declares (and none of the build-only ones, and Microsoft.Extensions ones at their line's floor); the license is an SPDX expression; and the
// .snupkg beside it holds, for each dll, the matching portable pdb whose SourceLink maps the sources to the repository
// at the packed commit. A file-based app rather than python or unzip: the .NET SDK is the one tool CI always has, and
// System.Reflection.Metadata reads the pdb the way debuggers do.
// Usage: dotnet run --file scripts/CheckPackages.cs -- PACKAGES_DIR REPOSITORY_ROOT
using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.Json;
using System.Xml.Linq;

if (args.Length != 2 || !Directory.Exists(args[0]) || !Directory.Exists(args[1]))
{
    Console.Error.WriteLine("usage: CheckPackages.cs PACKAGES_DIR REPOSITORY_ROOT (both folders must exist)");
    return 2;
}

var packages = Directory.GetFiles(args[0], "*.nupkg").Where(p => !p.EndsWith(".symbols.nupkg", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
if (packages.Count == 0)
{
    Console.Error.WriteLine($"check-packages: no .nupkg in {args[0]}");
    return 1;
}

var failed = 0;
foreach (var package in packages)
{
    var (summary, problems) = PackageCheck.Run(package, args[1]);
    if (problems.Count == 0)
    {
        Console.WriteLine($"ok   {summary}");
    }
    else
    {
        failed++;
        Console.WriteLine($"FAIL {Path.GetFileName(package)}:");
        foreach (var problem in problems)
        {
            Console.WriteLine($"     - {problem}");
        }
    }
}

Console.WriteLine(failed == 0 ? $"check-packages: {packages.Count} packages ok" : $"check-packages: {failed} of {packages.Count} packages have problems");
return failed == 0 ? 0 : 1;

internal static class PackageCheck
{
    // The custom debug information kind under which compilers store the SourceLink JSON in a portable pdb.
    private static readonly Guid SourceLinkKind = new("CC110556-A091-4D38-9FEC-25AB9A351A6A");

    public static (string Summary, List<string> Problems) Run(string nupkgPath, string repositoryRoot)
    {
        var problems = new List<string>();
        using var nupkg = ZipFile.OpenRead(nupkgPath);
        var nuspecEntry = nupkg.Entries.SingleOrDefault(e => !e.FullName.Contains('/', StringComparison.Ordinal) && e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        if (nuspecEntry is null)
        {
            return (nupkgPath, ["no .nuspec at the root of the package"]);
        }

        XElement metadata;
        using (var stream = nuspecEntry.Open())
        {
            metadata = XDocument.Load(stream).Root?.Elements().FirstOrDefault(e => e.Name.LocalName == "metadata") ?? new XElement("metadata");
        }

        string? Value(string name) => metadata.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value.Trim();
        var id = Value("id") ?? "";
        var version = Value("version") ?? "";
        var entries = nupkg.Entries.ToDictionary(e => e.FullName.Replace('\\', '/'), StringComparer.OrdinalIgnoreCase);

        var readme = Value("readme");
        if (string.IsNullOrEmpty(readme))
        {
            problems.Add("the nuspec names no <readme>");
        }
        else if (!entries.TryGetValue(readme.Replace('\\', '/'), out var readmeEntry) || readmeEntry.Length == 0)
        {
            problems.Add($"the nuspec's <readme> is '{readme}', but the package has no such (non-empty) file");
        }
        else
        {
            // nuget.org renders the README outside the repository: a relative link or image there leads nowhere.
            using var reader = new StreamReader(readmeEntry.Open());
            var text = reader.ReadToEnd();
            foreach (System.Text.RegularExpressions.Match link in System.Text.RegularExpressions.Regex.Matches(text, @"\]\((?<target>[^)\s]+)"))
            {
                var target = link.Groups["target"].Value;
                if (!target.StartsWith("https://", StringComparison.Ordinal) && !target.StartsWith("http://", StringComparison.Ordinal) && !target.StartsWith('#'))
                {
                    problems.Add($"the README links to '{target}', which is relative to the repository; use an absolute URL");
                }
            }
        }

        // nuget.org and the IDEs' package managers show the icon next to the name; a package without one looks abandoned.
        var icon = Value("icon");
        if (string.IsNullOrEmpty(icon))
        {
            problems.Add("the nuspec names no <icon>");
        }
        else if (!entries.TryGetValue(icon.Replace('\\', '/'), out var iconEntry) || iconEntry.Length == 0)
        {
            problems.Add($"the nuspec's <icon> is '{icon}', but the package has no such (non-empty) file");
        }

        var license = metadata.Elements().FirstOrDefault(e => e.Name.LocalName == "license");
        if (license is null || (string?)license.Attribute("type") != "expression" || string.IsNullOrWhiteSpace(license.Value))
        {
            problems.Add("no license expression (<license type=\"expression\">) in the nuspec");
        }

        var dlls = entries.Keys.Where(k => k.StartsWith("lib/", StringComparison.OrdinalIgnoreCase) && k.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).ToList();
        if (dlls.Count == 0)
        {
            problems.Add("no lib/<framework>/*.dll in the package");
        }

        foreach (var dll in dlls.Where(dll => !entries.ContainsKey(Path.ChangeExtension(dll, ".xml"))))
        {
            problems.Add($"{dll} has no XML doc file next to it ({Path.ChangeExtension(dll, ".xml")})");
        }

        var dependencyCount = CheckDependencies(metadata, id, version, dlls, repositoryRoot, problems);

        var repository = metadata.Elements().FirstOrDefault(e => e.Name.LocalName == "repository");
        var commit = (string?)repository?.Attribute("commit");
        if (string.IsNullOrWhiteSpace((string?)repository?.Attribute("url")))
        {
            problems.Add("no <repository url=...> in the nuspec");
        }

        var sourceLink = CheckSymbols(nupkgPath, nupkg, dlls, commit, problems);
        var summary = $"{id} {version}: README, icon, XML docs, {dependencyCount} dependencies, license {license?.Value}, symbols with SourceLink {sourceLink}";
        return (summary, problems);
    }

    // Expected: every package and project the project references, minus the build-only ones (PrivateAssets="all").
    private static int CheckDependencies(XElement metadata, string id, string version, List<string> dlls, string repositoryRoot, List<string> problems)
    {
        var groups = metadata.Elements().FirstOrDefault(e => e.Name.LocalName == "dependencies")?.Elements().Where(e => e.Name.LocalName == "group").ToList() ?? [];
        var frameworks = dlls.Select(dll => dll.Split('/')[1]).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var project = Path.Combine(repositoryRoot, "src", id, id + ".csproj");
        if (!File.Exists(project))
        {
            problems.Add($"cannot tell which dependencies to expect: no project {project}");
            return 0;
        }

        var buildFiles = new[] { project, Path.Combine(repositoryRoot, "src", "Directory.Build.props") }.Where(File.Exists).Select(XDocument.Load).ToList();
        var references = buildFiles.SelectMany(d => d.Descendants()).ToList();
        bool BuildOnly(XElement reference) => string.Equals((string?)reference.Attribute("PrivateAssets") ?? reference.Elements().FirstOrDefault(e => e.Name.LocalName == "PrivateAssets")?.Value, "all", StringComparison.OrdinalIgnoreCase);
        var expectedPackages = references.Where(e => e.Name.LocalName == "PackageReference" && !BuildOnly(e)).Select(e => (string)e.Attribute("Include")!).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var buildOnly = references.Where(e => e.Name.LocalName == "PackageReference" && BuildOnly(e)).Select(e => (string)e.Attribute("Include")!).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var expectedProjects = references.Where(e => e.Name.LocalName == "ProjectReference").Select(e => Path.GetFileNameWithoutExtension((string)e.Attribute("Include")!)).ToHashSet(StringComparer.OrdinalIgnoreCase);

        var count = 0;
        foreach (var framework in frameworks)
        {
            var group = groups.FirstOrDefault(g => string.Equals((string?)g.Attribute("targetFramework"), framework, StringComparison.OrdinalIgnoreCase));
            if (group is null)
            {
                problems.Add($"no dependency group for {framework} (lib/{framework}) in the nuspec");
                continue;
            }

            var listed = group.Elements().Where(e => e.Name.LocalName == "dependency").ToDictionary(e => (string)e.Attribute("id")!, e => (string?)e.Attribute("version") ?? "", StringComparer.OrdinalIgnoreCase);
            count = Math.Max(count, listed.Count);
            foreach (var missing in expectedPackages.Concat(expectedProjects).Where(d => !listed.ContainsKey(d)).Order(StringComparer.Ordinal))
            {
                problems.Add($"{framework}: dependency {missing} is referenced by {Path.GetFileName(project)} but missing from the nuspec");
            }

            foreach (var leaked in listed.Keys.Where(buildOnly.Contains).Order(StringComparer.Ordinal))
            {
                problems.Add($"{framework}: build-only package {leaked} (PrivateAssets=\"all\") is listed as a dependency");
            }

            foreach (var unexpected in listed.Keys.Where(d => !expectedPackages.Contains(d) && !expectedProjects.Contains(d) && !buildOnly.Contains(d)).Order(StringComparer.Ordinal))
            {
                problems.Add($"{framework}: dependency {unexpected} is in the nuspec but not referenced by {Path.GetFileName(project)}");
            }

            foreach (var sibling in expectedProjects.Where(p => listed.TryGetValue(p, out var v) && v != version && v != $"[{version}, )").Order(StringComparer.Ordinal))
            {
                problems.Add($"{framework}: dependency {sibling} has version '{listed[sibling]}', not this package's version {version}");
            }

            // A library that asks for a newer Microsoft.Extensions patch than it needs lifts every application that takes
            // it, and one that pins an older patch fails with a downgrade error (NU1605): ask for the line's floor, x.0.0.
            foreach (var (extension, v) in listed.Where(d => d.Key.StartsWith("Microsoft.Extensions.", StringComparison.OrdinalIgnoreCase) && !System.Text.RegularExpressions.Regex.IsMatch(d.Value, @"^\[?\d+\.0\.0(, \))?$")).OrderBy(d => d.Key, StringComparer.Ordinal))
            {
                problems.Add($"{framework}: dependency {extension} has version '{v}', not the floor of its line (x.0.0); see MicrosoftExtensionsVersion in Directory.Packages.props");
            }
        }

        return count;
    }

    private static string CheckSymbols(string nupkgPath, ZipArchive nupkg, List<string> dlls, string? commit, List<string> problems)
    {
        var snupkgPath = Path.ChangeExtension(nupkgPath, ".snupkg");
        if (!File.Exists(snupkgPath))
        {
            problems.Add($"no symbol package {Path.GetFileName(snupkgPath)} next to it");
            return "(none)";
        }

        using var snupkg = ZipFile.OpenRead(snupkgPath);
        var mappings = new List<string>();
        foreach (var dll in dlls)
        {
            var pdbPath = Path.ChangeExtension(dll, ".pdb");
            var pdbEntry = snupkg.Entries.FirstOrDefault(e => string.Equals(e.FullName.Replace('\\', '/'), pdbPath, StringComparison.OrdinalIgnoreCase));
            if (pdbEntry is null)
            {
                problems.Add($"{Path.GetFileName(snupkgPath)} has no {pdbPath}");
                continue;
            }

            using var pdb = MetadataReaderProvider.FromPortablePdbStream(Copy(pdbEntry));
            var reader = pdb.GetMetadataReader();
            if (!PdbBelongsToDll(reader, Copy(nupkg.GetEntry(dll)!)))
            {
                problems.Add($"{pdbPath} in the symbol package is not the pdb of {dll} (their ids differ)");
            }

            var json = reader.GetCustomDebugInformation(EntityHandle.ModuleDefinition)
                .Select(reader.GetCustomDebugInformation)
                .Where(info => reader.GetGuid(info.Kind) == SourceLinkKind)
                .Select(info => reader.GetBlobBytes(info.Value))
                .FirstOrDefault();
            if (json is null)
            {
                problems.Add($"{pdbPath} has no SourceLink (the sources map nowhere)");
                continue;
            }

            using var document = JsonDocument.Parse(json);
            var urls = document.RootElement.TryGetProperty("documents", out var documents) && documents.ValueKind == JsonValueKind.Object
                ? documents.EnumerateObject().Select(d => d.Value.GetString() ?? "").ToList()
                : [];
            if (urls.Count == 0)
            {
                problems.Add($"{pdbPath}: the SourceLink maps no documents");
            }

            foreach (var url in urls.Where(u => !u.StartsWith("https://", StringComparison.Ordinal) || (!string.IsNullOrEmpty(commit) && !u.Contains(commit, StringComparison.OrdinalIgnoreCase))))
            {
                problems.Add($"{pdbPath}: SourceLink URL '{url}' is not https at the packed commit {commit}");
            }

            mappings.AddRange(urls);
        }

        return string.Join(", ", mappings.Distinct(StringComparer.Ordinal));
    }

    // The dll's CodeView debug directory entry records the id of the pdb it was built with.
    private static bool PdbBelongsToDll(MetadataReader pdb, Stream dll)
    {
        using var pe = new PEReader(dll);
        var codeView = pe.ReadDebugDirectory().FirstOrDefault(e => e.Type == DebugDirectoryEntryType.CodeView);
        if (codeView.DataSize == 0 || pdb.DebugMetadataHeader is null)
        {
            return false;
        }

        var expected = pe.ReadCodeViewDebugDirectoryData(codeView).Guid;
        return new Guid(pdb.DebugMetadataHeader.Id.AsSpan(0, 16)) == expected;
    }

    private static MemoryStream Copy(ZipArchiveEntry entry)
    {
        var memory = new MemoryStream();
        using (var stream = entry.Open())
        {
            stream.CopyTo(memory);
        }

        memory.Position = 0;
        return memory;
    }
}
