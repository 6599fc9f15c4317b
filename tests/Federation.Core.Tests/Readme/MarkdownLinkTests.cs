using Federation.Core.Tests.Support;

namespace Federation.Core.Tests.Readme;

/// <summary>
/// The repository's documentation links only to files and headings that exist. README.md is a front page whose
/// sections live in docs/ pages, and the other READMEs link to those sections by anchor: a heading renamed or moved to
/// another page breaks such links silently on GitHub, so this fails instead, naming each one.
/// </summary>
public sealed class MarkdownLinkTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("markdown-links-").FullName;

    [Fact]
    public void Every_relative_link_of_the_repositorys_markdown_leads_to_a_file_and_heading_that_exist()
    {
        var root = RepositoryPaths.Root();
        var files = MarkdownLinkCheck.MarkdownFiles(root);

        var broken = MarkdownLinkCheck.BrokenLinks(root, files);

        Assert.True(broken.Count == 0, $"{broken.Count} broken link(s):\n" + string.Join("\n", broken));
    }

    [Fact]
    public void The_check_reads_the_readmes_and_the_docs_pages_and_finds_their_links()
    {
        // Guards the test above against passing because it stopped finding files or links.
        var root = RepositoryPaths.Root();
        var files = MarkdownLinkCheck.MarkdownFiles(root);

        Assert.Contains("README.md", files);
        Assert.Contains("docs/reconfiguration.md", files);
        Assert.Contains("examples/FederationHost/README.md", files);
        Assert.Contains("src/Federation.Core/README.md", files);
        Assert.DoesNotContain(files, f => f.Contains("node_modules/", StringComparison.Ordinal));
        var readme = MarkdownFile.Parse(File.ReadAllText(Path.Combine(root, "README.md")));
        Assert.Contains(readme.Links, l => l.Target == "docs/reconfiguration.md#when-a-links-upstream-queue-is-deleted");
        Assert.Contains("configuration-reference", readme.Anchors);
    }

    [Theory]
    [InlineData("When a link's upstream queue is deleted", "when-a-links-upstream-queue-is-deleted")]
    [InlineData("How it behaves (the plugin's semantics, kept on purpose)", "how-it-behaves-the-plugins-semantics-kept-on-purpose")]
    [InlineData("Durable NATS links (JetStream)", "durable-nats-links-jetstream")]
    [InlineData("Federation of Collectives on real nats-servers: request/reply through broker instances", "federation-of-collectives-on-real-nats-servers-requestreply-through-broker-instances")]
    [InlineData("Where the goals of issues 10, 12 and 15 stand (4 Dec 2026)", "where-the-goals-of-issues-10-12-and-15-stand-4-dec-2026")]
    [InlineData("Commands: `validate`, `status`, `restart`", "commands-validate-status-restart")]
    [InlineData("Paced runs: a steady pacer since 4 Dec 2026", "paced-runs-a-steady-pacer-since-4-dec-2026")]
    [InlineData("AMQP ↔ NATS at 1.5× the_rate - [see](x.md)", "amqp--nats-at-15-the_rate---see")]
    public void A_heading_gets_githubs_anchor(string heading, string anchor)
    {
        Assert.Equal(anchor, MarkdownFile.Slug(heading));
    }

    [Fact]
    public void A_repeated_heading_gets_a_numbered_anchor_and_code_is_neither_heading_nor_link()
    {
        var file = MarkdownFile.Parse("# Usage\n\n## Usage\n\n```bash\n# not a heading [x](nowhere.md)\n```\n\nText `[y](nowhere.md)` and [z](there.md#usage-1).\n");

        Assert.Equal(["usage", "usage-1"], file.Anchors.Order(StringComparer.Ordinal));
        Assert.Equal([(9, "there.md#usage-1")], file.Links);
    }

    [Fact]
    public void A_link_to_a_missing_file_or_heading_is_reported_with_its_line_and_a_good_one_is_not()
    {
        Directory.CreateDirectory(Path.Combine(_scratch, "docs"));
        File.WriteAllText(Path.Combine(_scratch, "docs", "page.md"), "# A page\n\n## When a link's upstream queue is deleted\n");
        File.WriteAllText(
            Path.Combine(_scratch, "README.md"),
            "# Front\n\n" +
            "[ok](docs/page.md#when-a-links-upstream-queue-is-deleted) [ok](docs/page.md) [ok](#front) [ok](docs) [web](https://example.org/x.md#nothing)\n" +
            "[moved](#when-a-links-upstream-queue-is-deleted)\n" +
            "[gone](docs/missing.md)\n" +
            "[renamed](docs/page.md#when-the-queue-is-deleted)\n");

        var broken = MarkdownLinkCheck.BrokenLinks(_scratch, MarkdownLinkCheck.MarkdownFiles(_scratch));

        Assert.Equal(3, broken.Count);
        Assert.StartsWith("README.md:4: #when-a-links-upstream-queue-is-deleted: README.md has no heading", broken[0], StringComparison.Ordinal);
        Assert.StartsWith("README.md:5: docs/missing.md: no file or folder docs/missing.md", broken[1], StringComparison.Ordinal);
        Assert.StartsWith("README.md:6: docs/page.md#when-the-queue-is-deleted: docs/page.md has no heading", broken[2], StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_scratch, recursive: true);
}
