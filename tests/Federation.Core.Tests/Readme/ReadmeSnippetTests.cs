using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Federation.Core.Tests.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Federation.Core.Tests.Readme;

/// <summary>
/// Every <c>```csharp</c> block of README.md, of the docs/ pages it links to and of the package READMEs compiles
/// against the built libraries, with nullable on and every warning an error (at the SDK's warning level), as a reader
/// would paste it into a worker project (<c>Microsoft.NET.Sdk.Worker</c>, whose implicit usings are the only ones assumed). A snippet names
/// its own <c>Federation.*</c> namespaces. Variables that a snippet uses without declaring (<c>services</c>,
/// <c>ct</c>, <c>host</c>, ...) are the reader's own, and are declared here with the type the README implies.
/// The snippets see only what such a project would: the framework, the <c>Federation.*</c> packages, the worker
/// template's <c>Microsoft.Extensions.Hosting</c>, the packages the README tells the reader to add
/// (<c>dotnet add package NAME</c>), and their dependencies; not everything this test project happens to reference.
/// </summary>
public sealed partial class ReadmeSnippetTests
{
    // The implicit global usings of Microsoft.NET.Sdk.Worker.
    private static readonly string[] ImplicitUsings =
    [
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading",
        "System.Threading.Tasks", "Microsoft.Extensions.Configuration", "Microsoft.Extensions.DependencyInjection",
        "Microsoft.Extensions.Hosting", "Microsoft.Extensions.Logging",
    ];

    // The reader's variables that snippets use without declaring them, with their types.
    private static readonly (string Name, string Type)[] ReaderVariables =
    [
        ("services", "Microsoft.Extensions.DependencyInjection.IServiceCollection"),
        ("configuration", "Microsoft.Extensions.Configuration.IConfiguration"),
        ("builder", "Microsoft.Extensions.Hosting.HostApplicationBuilder"),
        ("host", "Microsoft.Extensions.Hosting.IHost"),
        ("ct", "System.Threading.CancellationToken"),
        ("options", "Federation.Core.Model.FederationOptions"),
        ("newOptions", "Federation.Core.Model.FederationOptions"),
        ("linkId", "string"),
        ("federation", "Federation.Core.Transport.Messaging.ISubjectConnection"),
        ("collective", "Federation.Core.Transport.Messaging.ISubjectConnection"),
    ];

    // The packages a reader of the README references: the library's own, and the one the worker template adds.
    private static readonly string[] ReaderPackages = ["Federation.Core", "Federation.Amqp", "Federation.Nats", "Microsoft.Extensions.Hosting"];

    private static readonly Lazy<IReadOnlyList<MetadataReference>> References = new(() => LoadReferences([.. ReaderPackages, .. ReadmePackages()]));

    // Each package's own README (packed as the package's README).
    private static readonly string[] PackageReadmes = ["src/Federation.Core/README.md", "src/Federation.Amqp/README.md", "src/Federation.Nats/README.md"];

    // The repository README, the package READMEs, and the docs/ pages, where the README's sections beyond its front
    // page live: a snippet that moves there is compiled all the same.
    private static IEnumerable<string> Readmes() => ["README.md", .. PackageReadmes, .. DocsPages()];

    public static TheoryData<string, int> Snippets()
    {
        var data = new TheoryData<string, int>();
        foreach (var readme in Readmes())
        {
            foreach (var snippet in ReadSnippets(readme))
            {
                data.Add(readme, snippet.Line);
            }
        }

        return data;
    }

    [Fact]
    public void The_readme_has_csharp_snippets()
    {
        // Guards the theory below against a README whose blocks the pattern stopped finding.
        Assert.True(ReadSnippets("README.md").Count >= 5, $"only {ReadSnippets("README.md").Count} ```csharp blocks found in README.md");
        Assert.All(PackageReadmes, readme => Assert.NotEmpty(ReadSnippets(readme)));
    }

    [Fact]
    public void The_docs_pages_are_read_for_snippets()
    {
        // Guards the theory against a docs/ folder it stopped finding: the README's Documentation section lists its pages.
        var pages = DocsPages();

        Assert.Contains("docs/reconfiguration.md", pages);
        Assert.Contains("docs/collectives.md", pages);
        Assert.Subset(Readmes().ToHashSet(StringComparer.Ordinal), pages.ToHashSet(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Snippets))]
    public void The_snippet_compiles_as_written(string readme, int line)
    {
        var snippet = ReadSnippets(readme).Single(s => s.Line == line);
        var source = AsProgram(snippet.Code);

        var errors = Compile(line, source, References.Value);

        Assert.True(
            errors.Count == 0,
            $"{readme} line {line}: the C# snippet does not compile:\n{string.Join("\n", errors)}\n\nas compiled:\n{Numbered(source)}");
    }

    [Fact]
    public void A_snippet_needing_a_package_the_readme_does_not_name_fails_to_compile()
    {
        // Guards the reference set: AddHealthChecks() is in Microsoft.Extensions.Diagnostics.HealthChecks, which this test
        // project references but Federation.Core does not depend on; without the README naming it, a reader lacks it.
        var source = AsProgram("using Federation.Core.Hosting;\n\nservices.AddFederation();\nservices.AddHealthChecks().AddCheck<FederationHealthCheck>(\"federation\");\n");

        var errors = Compile(0, source, LoadReferences(ReaderPackages));

        Assert.Contains(errors, e => e.Id == "CS1061" && e.GetMessage(System.Globalization.CultureInfo.InvariantCulture).Contains("AddHealthChecks", StringComparison.Ordinal));
        Assert.Empty(Compile(0, source, References.Value));
    }

    [Fact]
    public void A_snippet_with_a_warning_fails_to_compile()
    {
        // A reader's project with TreatWarningsAsErrors (as this repository's own) refuses a snippet that only warns: a
        // nullable warning and an unused variable fail here, while a reader variable the snippet only mentions does not.
        var source = AsProgram("string text = null;\nvar unused = 1;\nConsole.WriteLine(text + \"options\");\n");

        var errors = Compile(0, source, References.Value);

        Assert.Contains(errors, e => e.Id == "CS8600");
        Assert.Contains(errors, e => e.Id == "CS0219");
        Assert.Equal(2, errors.Count);
    }

    [Fact]
    public void The_snippets_do_not_see_the_test_projects_own_references()
    {
        var names = References.Value.Select(r => Path.GetFileNameWithoutExtension(r.Display)).ToHashSet(StringComparer.OrdinalIgnoreCase);

        Assert.Contains("Federation.Core", names);
        Assert.Contains("Federation.Nats", names);
        Assert.Contains("NATS.Client.Core", names);
        Assert.Contains("Microsoft.Extensions.Hosting", names);
        Assert.Contains("System.Runtime", names);
        Assert.DoesNotContain("xunit.core", names);
        Assert.DoesNotContain("FsCheck", names);
        Assert.DoesNotContain("Microsoft.CodeAnalysis", names);
        Assert.DoesNotContain("Federation.Transport.Contracts", names);
        Assert.DoesNotContain(typeof(ReadmeSnippetTests).Assembly.GetName().Name!, names);
    }

    private static List<Diagnostic> Compile(int line, string source, IReadOnlyList<MetadataReference> references)
    {
        var compilation = CSharpCompilation.Create(
            "ReadmeSnippet" + line,
            [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest))],
            references,
            new CSharpCompilationOptions(
                OutputKind.ConsoleApplication,
                nullableContextOptions: NullableContextOptions.Enable,
                warningLevel: 9999,
                generalDiagnosticOption: ReportDiagnostic.Error));
        return [.. compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error)];
    }

    /// <summary>The packages the README tells the reader to add (<c>dotnet add package NAME</c>).</summary>
    private static List<string> ReadmePackages()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryPaths.Root(), "README.md"));
        return [.. AddPackage().Matches(readme).Select(m => m.Groups["name"].Value).Distinct(StringComparer.OrdinalIgnoreCase)];
    }

    private static List<string> DocsPages() =>
        [.. Directory.GetFiles(Path.Combine(RepositoryPaths.Root(), "docs"), "*.md").Select(p => "docs/" + Path.GetFileName(p)).Order(StringComparer.Ordinal)];

    private static List<(int Line, string Code)> ReadSnippets(string file)
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryPaths.Root(), file)).ReplaceLineEndings("\n");
        return [.. CsharpBlock().Matches(readme).Select(m => (readme[..m.Index].Count(c => c == '\n') + 1, m.Groups["code"].Value))];
    }

    /// <summary>
    /// The snippet as a program with top-level statements: implicit usings, the snippet's own using directives, the
    /// reader's variables it uses but does not declare, then its statements.
    /// </summary>
    private static string AsProgram(string code)
    {
        var lines = code.Split('\n');
        var usings = lines.TakeWhile(l => UsingDirective().IsMatch(l) || l.Trim().Length == 0).ToList();
        var body = string.Join("\n", lines.Skip(usings.Count));

        var program = new StringBuilder();
        foreach (var name in ImplicitUsings)
        {
            program.Append("global using global::").Append(name).Append(";\n");
        }

        program.Append(string.Join("\n", usings)).Append('\n');

        // The reader's variables stand in for values the reader has; one that the snippet only mentions (a lambda
        // parameter or a word in a string of the same name) must not fail the compilation as an unused variable.
        program.Append("#pragma warning disable CS0219\n");
        foreach (var (name, type) in ReaderVariables)
        {
            var used = Regex.IsMatch(body, @"\b" + name + @"\b", RegexOptions.None, TimeSpan.FromSeconds(1));
            var declared = Regex.IsMatch(body, @"\bvar\s+" + name + @"\b", RegexOptions.None, TimeSpan.FromSeconds(1));
            if (used && !declared)
            {
                program.Append(type).Append(' ').Append(name).Append(" = default!;\n");
            }
        }

        return program.Append("#pragma warning restore CS0219\n").Append(body).ToString();
    }

    /// <summary>
    /// The framework's reference assemblies plus the runtime assemblies of <paramref name="packages"/> and everything they
    /// depend on, as this test project's deps.json resolves them (the versions a reader's project would restore).
    /// </summary>
    private static IReadOnlyList<MetadataReference> LoadReferences(IEnumerable<string> packages)
    {
        var depsFile = Path.Combine(AppContext.BaseDirectory, typeof(ReadmeSnippetTests).Assembly.GetName().Name + ".deps.json");
        using var deps = JsonDocument.Parse(File.ReadAllText(depsFile));
        var libraries = deps.RootElement.GetProperty("targets").EnumerateObject().First().Value.EnumerateObject()
            .ToDictionary(l => l.Name[..l.Name.IndexOf('/', StringComparison.Ordinal)], l => l.Value, StringComparer.OrdinalIgnoreCase);

        var assemblies = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var pending = new Stack<string>(packages);
        while (pending.TryPop(out var package))
        {
            // A package the framework already provides is pruned from deps.json: its assemblies come with the framework.
            if (!seen.Add(package) || !libraries.TryGetValue(package, out var library))
            {
                continue;
            }

            if (library.TryGetProperty("runtime", out var runtime))
            {
                assemblies.UnionWith(runtime.EnumerateObject().Select(a => Path.GetFileName(a.Name)));
            }

            if (library.TryGetProperty("dependencies", out var dependencies))
            {
                foreach (var dependency in dependencies.EnumerateObject())
                {
                    pending.Push(dependency.Name);
                }
            }
        }

        // The test host's trusted platform assemblies: the shared framework (its own directory) and this project's
        // references, of which only the packages' closure is kept.
        var framework = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        return [.. paths
            .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .Where(p => string.Equals(Path.GetDirectoryName(p), framework, StringComparison.Ordinal) || assemblies.Contains(Path.GetFileName(p)))
            .Select(p => MetadataReference.CreateFromFile(p))];
    }

    private static string Numbered(string source) =>
        string.Join("\n", source.Split('\n').Select((l, i) => $"{i + 1,3}: {l}"));

    [GeneratedRegex(@"^```csharp\n(?<code>.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CsharpBlock();

    [GeneratedRegex(@"^using\s+[\w.]+\s*;\s*$")]
    private static partial Regex UsingDirective();

    [GeneratedRegex(@"dotnet add package (?<name>[A-Za-z0-9_.-]+)")]
    private static partial Regex AddPackage();
}
