using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Federation.Core.Tests.Readme;

/// <summary>
/// What a markdown file offers to links and makes of them: the anchors its headings get on GitHub, and the links it
/// writes (inline <c>[text](target)</c>, images, and reference definitions <c>[name]: target</c>), each with its line.
/// Fenced code blocks and inline code spans are not markdown, so what looks like a link or a heading there is neither.
/// </summary>
internal sealed partial class MarkdownFile
{
    private MarkdownFile(IReadOnlyList<(int Line, string Target)> links, IReadOnlySet<string> anchors)
    {
        Links = links;
        Anchors = anchors;
    }

    /// <summary>Every link target as written, with its 1-based line.</summary>
    public IReadOnlyList<(int Line, string Target)> Links { get; }

    /// <summary>The anchors of the headings, as GitHub names them (a repeated heading gets <c>-1</c>, <c>-2</c>, ...).</summary>
    public IReadOnlySet<string> Anchors { get; }

    public static MarkdownFile Parse(string text)
    {
        var links = new List<(int Line, string Target)>();
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var headingCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        string? fence = null;
        var lines = text.ReplaceLineEndings("\n").Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var fenceMatch = Fence().Match(line);
            if (fence is null && fenceMatch.Success)
            {
                fence = fenceMatch.Groups["fence"].Value;
                continue;
            }

            if (fence is not null)
            {
                // A fence closes with at least as many of the same characters as opened it.
                if (fenceMatch.Success && fenceMatch.Groups["fence"].Value.StartsWith(fence, StringComparison.Ordinal) && line.Trim().Trim(fence[0]).Length == 0)
                {
                    fence = null;
                }

                continue;
            }

            var prose = CodeSpan().Replace(line, string.Empty);
            var heading = Heading().Match(line);
            if (heading.Success)
            {
                var slug = Slug(heading.Groups["text"].Value);
                var seen = headingCounts.GetValueOrDefault(slug);
                anchors.Add(seen == 0 ? slug : $"{slug}-{seen}");
                headingCounts[slug] = seen + 1;
            }

            links.AddRange(InlineLink().Matches(prose).Select(m => (i + 1, m.Groups["target"].Value.Trim('<', '>'))));
            var definition = ReferenceDefinition().Match(prose);
            if (definition.Success)
            {
                links.Add((i + 1, definition.Groups["target"].Value.Trim('<', '>')));
            }
        }

        return new MarkdownFile(links, anchors);
    }

    /// <summary>
    /// GitHub's anchor for a heading: its text as rendered (a link's text, a code span's content), lower case, every
    /// character that is not a letter, a digit, a mark, '-', '_' or a space removed, and each space turned into '-'.
    /// </summary>
    public static string Slug(string heading)
    {
        var rendered = LinkInHeading().Replace(heading, "${text}");
        var slug = new StringBuilder(rendered.Length);
        foreach (var c in rendered.Trim().ToLowerInvariant())
        {
            var category = char.GetUnicodeCategory(c);
            if (c == ' ')
            {
                slug.Append('-');
            }
            else if (c is '-' or '_' || char.IsLetterOrDigit(c) || category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.LetterNumber)
            {
                slug.Append(c);
            }
        }

        return slug.ToString();
    }

    [GeneratedRegex(@"^ {0,3}(?<fence>`{3,}|~{3,})")]
    private static partial Regex Fence();

    [GeneratedRegex(@"`[^`]*`")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"^ {0,3}#{1,6}[ \t]+(?<text>.*?)(?:[ \t]+#+)?[ \t]*$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"\]\((?<target><[^>]*>|[^)\s]+)(?:\s+""[^""]*"")?\)")]
    private static partial Regex InlineLink();

    [GeneratedRegex(@"^ {0,3}\[[^\]]+\]:\s*(?<target>\S+)")]
    private static partial Regex ReferenceDefinition();

    [GeneratedRegex(@"!?\[(?<text>[^\]]*)\]\([^)]*\)")]
    private static partial Regex LinkInHeading();
}
