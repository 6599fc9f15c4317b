using Federation.Core.Transport;

namespace Federation.Core.Tests.Transport;

/// <summary>
/// Text from the wire on its way into a log line: nothing in it may start another line, change how the line is shown, or
/// be invalid UTF-16; everything else is kept as it is.
/// </summary>
public sealed class PrintableTextTests
{
    [Theory]
    [InlineData("a\r\nb", "a\\u000D\\u000Ab")]
    [InlineData("a\u0085b", "a\\u0085b")] // NEL
    [InlineData("a\u2028b\u2029c", "a\\u2028b\\u2029c")] // line and paragraph separators
    [InlineData("id\u202Eexe.txt", "id\\u202Eexe.txt")] // right-to-left override
    [InlineData("\u2066x\u2069\u200E\u200F\u061C", "\\u2066x\\u2069\\u200E\\u200F\\u061C")] // isolates and marks
    public void Characters_that_forge_or_disguise_a_log_line_are_escaped(string text, string expected) =>
        Assert.Equal(expected, PrintableText.Escape(text));

    // Lone surrogates cannot go through attribute arguments (the compiler stores those as UTF-8): built here.
    [Theory]
    [InlineData("lone ", '\uD800', " high")]
    [InlineData("lone ", '\uDC00', " low")]
    [InlineData("end ", '\uD83D', "")]
    [InlineData("", '\uDE80', " reversed pair \U0001F680")]
    public void Lone_surrogates_are_escaped(string before, char surrogate, string after) =>
        Assert.Equal($"{before}\\u{(int)surrogate:X4}{after}", PrintableText.Escape(before + surrogate + after));

    [Theory]
    [InlineData("orders.eu-west.created")]
    [InlineData("Grüße, 東京, \U0001F680")] // a surrogate pair is one character, kept
    [InlineData("tab-free text with spaces")]
    public void Printable_text_is_returned_as_it_is(string text) =>
        Assert.Same(text, PrintableText.Escape(text));

    [Fact]
    public void Long_text_is_cut_on_a_whole_character_and_marked()
    {
        var text = new string('a', PrintableText.MaxLength - 1) + "\U0001F680" + "tail";

        var escaped = PrintableText.Escape(text);

        Assert.Equal(new string('a', PrintableText.MaxLength - 1) + "...", escaped);
    }
}
