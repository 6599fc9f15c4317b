namespace Federation.Core.Collectives;

/// <summary>The subjects and queue groups of one broker cluster.</summary>
/// <param name="Federation">Where clients publish requests, on the federation: <c>&lt;prefix&gt;.&lt;cluster&gt;.federation</c>.</param>
/// <param name="FederationQueueGroup">The instances' queue group there: <c>&lt;cluster&gt;_federation</c>.</param>
/// <param name="Collective">Where nodes publish replies, on the collective: <c>&lt;prefix&gt;.&lt;cluster&gt;.collective</c>.</param>
/// <param name="CollectiveQueueGroup">The instances' queue group there: <c>&lt;cluster&gt;_collective</c>.</param>
public sealed record FederationBrokerSubjects(string Federation, string FederationQueueGroup, string Collective, string CollectiveQueueGroup)
{
    /// <summary>The subjects of broker cluster <paramref name="cluster"/> under <paramref name="subjectPrefix"/>.</summary>
    public static FederationBrokerSubjects For(string cluster, string subjectPrefix = FederationBrokerOptions.DefaultSubjectPrefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(cluster);
        ArgumentException.ThrowIfNullOrEmpty(subjectPrefix);
        return new FederationBrokerSubjects(
            $"{subjectPrefix}.{cluster}.federation", $"{cluster}_federation",
            $"{subjectPrefix}.{cluster}.collective", $"{cluster}_collective");
    }
}
