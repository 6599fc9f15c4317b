using System.Text;
using System.Text.RegularExpressions;
using Federation.Core.Tests.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Federation.Core.Tests.Readme;

/// <summary>
/// Every <c>```csharp</c> block of README.md compiles against the built libraries, as a reader would paste it into a
/// worker project (<c>Microsoft.NET.Sdk.Worker</c>, whose implicit usings are the only ones assumed). A snippet names
/// its own <c>Federation.*</c> namespaces. Variables that a snippet uses without declaring (<c>services</c>,
/// <c>ct</c>, <c>host</c>, ...) are the reader's own, and are declared here with the type the README implies.
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

    private static readonly Lazy<IReadOnlyList<MetadataReference>> References = new(LoadReferences);

    public static TheoryData<int> Snippets()
    {
        var data = new TheoryData<int>();
        foreach (var snippet in ReadSnippets())
        {
            data.Add(snippet.Line);
        }

        return data;
    }

    [Fact]
    public void The_readme_has_csharp_snippets()
    {
        // Guards the theory below against a README whose blocks the pattern stopped finding.
        Assert.True(ReadSnippets().Count >= 5, $"only {ReadSnippets().Count} ```csharp blocks found in README.md");
    }

    [Theory]
    [MemberData(nameof(Snippets))]
    public void The_snippet_compiles_as_written(int line)
    {
        var snippet = ReadSnippets().Single(s => s.Line == line);
        var source = AsProgram(snippet.Code);
        var compilation = CSharpCompilation.Create(
            "ReadmeSnippet" + line,
            [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest))],
            References.Value,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));

        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();

        Assert.True(
            errors.Count == 0,
            $"README.md line {line}: the C# snippet does not compile:\n{string.Join("\n", errors)}\n\nas compiled:\n{Numbered(source)}");
    }

    private static List<(int Line, string Code)> ReadSnippets()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryPaths.Root(), "README.md")).ReplaceLineEndings("\n");
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
        foreach (var (name, type) in ReaderVariables)
        {
            var used = Regex.IsMatch(body, @"\b" + name + @"\b", RegexOptions.None, TimeSpan.FromSeconds(1));
            var declared = Regex.IsMatch(body, @"\bvar\s+" + name + @"\b", RegexOptions.None, TimeSpan.FromSeconds(1));
            if (used && !declared)
            {
                program.Append(type).Append(' ').Append(name).Append(" = default!;\n");
            }
        }

        return program.Append(body).ToString();
    }

    private static IReadOnlyList<MetadataReference> LoadReferences()
    {
        // The test host's trusted platform assemblies: the shared framework plus everything this project references
        // (Federation.Core, Federation.Nats, Microsoft.Extensions.*), i.e. what a worker project using them would see.
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        return [.. paths.Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)).Select(p => MetadataReference.CreateFromFile(p))];
    }

    private static string Numbered(string source) =>
        string.Join("\n", source.Split('\n').Select((l, i) => $"{i + 1,3}: {l}"));

    [GeneratedRegex(@"^```csharp\n(?<code>.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CsharpBlock();

    [GeneratedRegex(@"^using\s+[\w.]+\s*;\s*$")]
    private static partial Regex UsingDirective();
}
