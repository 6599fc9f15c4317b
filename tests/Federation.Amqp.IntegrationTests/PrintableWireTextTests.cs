using Xunit;

namespace Federation.Amqp.IntegrationTests;

/// <summary>A header name or routing key on its way into a log line: nothing in it may start a line or disguise one.</summary>
public sealed class PrintableWireTextTests
{
    [Theory]
    [InlineData("a\r\nb", "a\\u000D\\u000Ab")]
    [InlineData("a\u2028b", "a\\u2028b")]
    [InlineData("key\u202Efdp.exe", "key\\u202Efdp.exe")]
    [InlineData("Grüße \U0001F680", "Grüße \U0001F680")]
    public void Line_breaks_bidi_formatting_and_lone_surrogates_are_escaped(string text, string expected) =>
        Assert.Equal(expected, PrintableWireText.Escape(text));

    [Fact]
    public void A_lone_surrogate_is_escaped() => Assert.Equal("lone \\uDC00", PrintableWireText.Escape("lone " + '\uDC00'));

    [Fact]
    public void Long_text_is_cut_on_a_whole_character()
    {
        var text = new string('k', PrintableWireText.MaxLength - 1) + "\U0001F680";

        Assert.Equal(new string('k', PrintableWireText.MaxLength - 1) + "...", PrintableWireText.Escape(text));
    }
}
