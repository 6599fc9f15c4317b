using Federation.Core.Addressing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Federation.Core.Tests.Addressing;

public sealed class TopicGrammarTests
{
    private static readonly string[] Words = ["", "a", "b", "ab"];

    [Theory]
    [InlineData("", "", true)]
    [InlineData("", "a", false)]
    [InlineData("#", "", true)]
    [InlineData("#", "a.b.c", true)]
    [InlineData("*", "", false)]
    [InlineData("*", ".", false)]
    [InlineData("*.*", ".", true)]
    [InlineData("a.*.b", "a..b", true)]
    [InlineData("#.#", "a", true)]
    [InlineData("a.#.#.b", "a.b", true)]
    [InlineData("a.#.b.#.c", "a.x.b.y.b.c", true)]
    [InlineData("a.#.b", "a.b.c", false)]
    [InlineData("#.a", "b.a.a", true)]
    [InlineData("a.", "a", false)]
    [InlineData("a.", "a.", true)]
    public void Matches_FollowsRabbitMqWordSemantics(string pattern, string routingKey, bool expected) =>
        Assert.Equal(expected, TopicGrammar.Matches(pattern, routingKey));

    [Property]
    public Property Matches_AgreesWithARecursiveReferenceMatcher()
    {
        var patternWords = Gen.Elements([.. Words, "*", "#"]);
        var topic = (Gen<string> word) => Gen.Choose(0, 5).SelectMany(n => Gen.ArrayOf(word, n)).Select(ws => ws.Length == 0 ? string.Empty : string.Join('.', ws));
        var cases = topic(patternWords).SelectMany(pattern => topic(Gen.Elements(Words)).Select(key => (pattern, key)));

        return Prop.ForAll(cases.ToArbitrary(), testCase =>
            TopicGrammar.Matches(testCase.pattern, testCase.key) == ReferenceMatches(Split(testCase.pattern), Split(testCase.key)));
    }

    // RabbitMQ splits "" into no words and "a." into ["a", ""].
    private static string[] Split(string topic) => topic.Length == 0 ? [] : topic.Split('.');

    private static bool ReferenceMatches(ReadOnlySpan<string> pattern, ReadOnlySpan<string> key)
    {
        if (pattern.IsEmpty)
        {
            return key.IsEmpty;
        }

        return pattern[0] switch
        {
            "#" => ReferenceMatches(pattern[1..], key) || (!key.IsEmpty && ReferenceMatches(pattern, key[1..])),
            "*" => !key.IsEmpty && ReferenceMatches(pattern[1..], key[1..]),
            var word => !key.IsEmpty && key[0] == word && ReferenceMatches(pattern[1..], key[1..]),
        };
    }
}
