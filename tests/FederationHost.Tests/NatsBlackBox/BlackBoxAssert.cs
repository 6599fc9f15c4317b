namespace FederationHost.Tests.NatsBlackBox;

/// <summary>Assertions on what the npm client received, with messages that say what was missing or doubled.</summary>
internal static class BlackBoxAssert
{
    /// <summary>Every body of <paramref name="expected"/> was received exactly once, and nothing else.</summary>
    public static void ExactlyOnce(IReadOnlyCollection<string> expected, IReadOnlyList<NpmNatsClient.Received> received, string where)
    {
        var counts = received.GroupBy(m => m.Body).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var missing = expected.Where(b => !counts.ContainsKey(b)).ToList();
        var doubled = counts.Where(c => c.Value > 1).Select(c => $"{c.Key} x{c.Value}").ToList();
        var unexpected = counts.Keys.Except(expected, StringComparer.Ordinal).ToList();
        Assert.True(
            missing.Count == 0 && doubled.Count == 0 && unexpected.Count == 0,
            $"{where}: {received.Count} received for {expected.Count} expected; missing {missing.Count} [{string.Join(", ", missing.Take(10))}], " +
            $"more than once {doubled.Count} [{string.Join(", ", doubled.Take(10))}], unexpected {unexpected.Count} [{string.Join(", ", unexpected.Take(10))}]");
    }
}
