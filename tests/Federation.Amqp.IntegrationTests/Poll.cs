namespace Federation.Amqp.IntegrationTests;

/// <summary>Polls with a deadline instead of sleeping for a fixed time.</summary>
internal static class Poll
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>Returns the first non-null result of <paramref name="probe"/>, or throws <see cref="TimeoutException"/> at the deadline.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T?>> probe, string because, TimeSpan? timeout = null)
        where T : class
    {
        var deadline = DateTime.UtcNow + (timeout ?? Deadline);
        while (true)
        {
            if (await probe() is { } result)
            {
                return result;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out: {because}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50));
        }
    }
}
