namespace Federation.Core.Addressing;

/// <summary>What a subject is for, which decides whether it may have wildcards.</summary>
public enum SubjectUse
{
    /// <summary>A subject to publish to (or reply to): no wildcards.</summary>
    Publish,

    /// <summary>A subject to subscribe to: <c>*</c> and a last <c>&gt;</c> are wildcards.</summary>
    Subscribe,
}
