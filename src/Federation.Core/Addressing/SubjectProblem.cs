namespace Federation.Core.Addressing;

/// <summary>What is wrong with a subject, as <see cref="SubjectGrammar.FindProblem"/> finds it.</summary>
public enum SubjectProblem
{
    /// <summary>Nothing: the subject is valid.</summary>
    None,

    /// <summary>The subject is null or empty.</summary>
    Empty,

    /// <summary>A token is empty: a leading, trailing or doubled <c>.</c>.</summary>
    EmptyToken,

    /// <summary>The subject contains whitespace or a control character, which the NATS protocol line cannot carry.</summary>
    WhitespaceOrControl,

    /// <summary>A publish subject has a wildcard token.</summary>
    WildcardInPublish,

    /// <summary>A <c>&gt;</c> token is not the last token.</summary>
    TailNotLast,

    /// <summary><c>*</c> or <c>&gt;</c> inside a longer token, where a strict check refuses it (NATS reads it as a literal character).</summary>
    WildcardInsideToken,
}
