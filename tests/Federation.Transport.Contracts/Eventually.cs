namespace Federation.Transport.Contracts;

/// <summary>Waits for asynchronous effects by polling with a deadline, so tests never depend on fixed sleeps.</summary>
public static class Eventually
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(5);

    /// <summary>Completes as soon as <paramref name="condition"/> holds; throws <see cref="TimeoutException"/> when it still does not after <paramref name="timeout"/>.</summary>
    public static async Task TrueAsync(Func<bool> condition, TimeSpan timeout, string? because = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Condition not met within {timeout}{(because is null ? "." : ": " + because)}");
            }

            await Task.Delay(PollInterval).ConfigureAwait(false);
        }
    }
}
