using Federation.Core.Addressing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Federation.Core.Tests.Addressing;

/// <summary>The one NATS subject grammar that the in-memory bus, the NATS and AMQP subject transports and the NATS mapping share.</summary>
public sealed class SubjectGrammarTests
{
    private static readonly string[] Tokens = ["", "a", "b", "ab"];

    [Theory]
    [InlineData("a")]
    [InlineData("a.b.c")]
    [InlineData("_INBOX.abc.1")]
    [InlineData("$JS.API.x")]
    [InlineData("zürich.😀")]
    public void Literal_subjects_are_valid_for_both_uses(string subject)
    {
        Assert.Equal(SubjectProblem.None, SubjectGrammar.FindProblem(subject, SubjectUse.Publish));
        Assert.Equal(SubjectProblem.None, SubjectGrammar.FindProblem(subject, SubjectUse.Subscribe));
        Assert.Null(SubjectGrammar.Explain(subject, SubjectUse.Publish, wildcardsMustBeWholeTokens: true));
    }

    [Theory]
    [InlineData("*")]
    [InlineData(">")]
    [InlineData("a.*")]
    [InlineData("a.*.>")]
    public void Wildcard_tokens_are_only_allowed_in_subscriptions(string subject)
    {
        Assert.Equal(SubjectProblem.None, SubjectGrammar.FindProblem(subject, SubjectUse.Subscribe));
        Assert.Equal(SubjectProblem.WildcardInPublish, SubjectGrammar.FindProblem(subject, SubjectUse.Publish));
    }

    [Theory]
    [InlineData(null, SubjectProblem.Empty)]
    [InlineData("", SubjectProblem.Empty)]
    [InlineData("a..b", SubjectProblem.EmptyToken)]
    [InlineData(".a", SubjectProblem.EmptyToken)]
    [InlineData("a.", SubjectProblem.EmptyToken)]
    [InlineData("a b", SubjectProblem.WhitespaceOrControl)]
    [InlineData("a\tb", SubjectProblem.WhitespaceOrControl)]
    [InlineData("a\r\nPUB x 1", SubjectProblem.WhitespaceOrControl)]
    [InlineData("a.>.b", SubjectProblem.TailNotLast)]
    [InlineData("a..>", SubjectProblem.EmptyToken)]
    public void Invalid_subscription_subjects_name_the_first_problem(string? subject, SubjectProblem expected) =>
        Assert.Equal(expected, SubjectGrammar.FindProblem(subject, SubjectUse.Subscribe));

    [Theory]
    [InlineData("a.b*")]
    [InlineData("a>.b")]
    [InlineData("*a")]
    public void Wildcard_characters_inside_a_token_are_literal_unless_the_check_is_strict(string subject)
    {
        Assert.Equal(SubjectProblem.None, SubjectGrammar.FindProblem(subject, SubjectUse.Publish));
        Assert.Equal(SubjectProblem.None, SubjectGrammar.FindProblem(subject, SubjectUse.Subscribe));
        Assert.Equal(SubjectProblem.WildcardInsideToken, SubjectGrammar.FindProblem(subject, SubjectUse.Subscribe, wildcardsMustBeWholeTokens: true));
        Assert.False(SubjectGrammar.HasWildcard(subject));
    }

    [Fact]
    public void Every_problem_has_its_own_description()
    {
        var descriptions = Enum.GetValues<SubjectProblem>().Select(SubjectGrammar.Describe).ToList();

        Assert.All(descriptions, d => Assert.False(string.IsNullOrWhiteSpace(d)));
        Assert.Equal(descriptions.Count, descriptions.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(SubjectGrammar.Describe(SubjectProblem.TailNotLast), SubjectGrammar.Explain("a.>.b", SubjectUse.Subscribe));
    }

    [Theory]
    [InlineData("a.b", "a.b", true)]
    [InlineData("a.b", "a.c", false)]
    [InlineData("a.*", "a.b", true)]
    [InlineData("a.*", "a.b.c", false)]
    [InlineData("a.*", "a", false)]
    [InlineData("a.>", "a.b.c", true)]
    [InlineData("a.>", "a", false)]
    [InlineData(">", "a", true)]
    [InlineData("*.b.>", "x.b.y", true)]
    [InlineData("a.b*", "a.b*", true)]
    [InlineData("a.b*", "a.bc", false)]
    public void Matching_follows_nats_token_rules(string filter, string subject, bool expected) =>
        Assert.Equal(expected, SubjectGrammar.Matches(filter, subject));

    [Property]
    public Property Matching_agrees_with_a_token_by_token_reference()
    {
        var filterTokens = Gen.Elements([.. Tokens, "*", ">"]);
        var subject = (Gen<string> token) => Gen.Choose(1, 4).SelectMany(n => Gen.ArrayOf(token, n)).Select(ts => string.Join('.', ts));
        var cases = subject(filterTokens).SelectMany(filter => subject(Gen.Elements(Tokens)).Select(s => (filter, s)));

        return Prop.ForAll(cases.ToArbitrary(), testCase =>
            SubjectGrammar.Matches(testCase.filter, testCase.s) == ReferenceMatches(testCase.filter.Split('.'), testCase.s.Split('.')));
    }

    [Theory]
    [InlineData("workers", true)]
    [InlineData("london_federation", true)]
    [InlineData("", false)]
    [InlineData(null, false)]
    [InlineData("a b", false)]
    [InlineData("a\nb", false)]
    public void Queue_groups_are_non_empty_without_whitespace(string? queueGroup, bool valid) =>
        Assert.Equal(valid, SubjectGrammar.IsValidQueueGroup(queueGroup));

    // The NATS server's rule, written the obvious way: '>' takes every remaining token (at least one), '*' any one.
    private static bool ReferenceMatches(string[] filter, string[] subject)
    {
        for (var i = 0; i < filter.Length; i++)
        {
            if (filter[i] == ">")
            {
                return subject.Length > i;
            }

            if (i >= subject.Length || (filter[i] != "*" && filter[i] != subject[i]))
            {
                return false;
            }
        }

        return filter.Length == subject.Length;
    }
}
