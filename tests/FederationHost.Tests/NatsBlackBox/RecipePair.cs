namespace FederationHost.Tests.NatsBlackBox;

/// <summary>
/// The README's nats:// recipe as written: upstream <c>nats-a</c> (with a user and password) and downstream
/// <c>nats-b</c> started with the recipe's arguments on free ports, one FederationHost on the recipe's appsettings.json,
/// and the npm client connected to both servers (as <c>a</c>, with the recipe's credentials, and <c>b</c>).
/// </summary>
internal sealed class RecipePair : IAsyncDisposable
{
    private RecipePair(NatsReadmeRecipe recipe, NatsNode upstream, NatsNode downstream, BlackBoxHost host, NpmNatsClient client)
    {
        Recipe = recipe;
        Upstream = upstream;
        Downstream = downstream;
        Host = host;
        Client = client;
    }

    public NatsReadmeRecipe Recipe { get; }

    public NatsNode Upstream { get; }

    public NatsNode Downstream { get; }

    public BlackBoxHost Host { get; }

    public NpmNatsClient Client { get; }

    /// <summary>Starts everything and waits until the link is running (the recipe's <c>namespaces=orders</c> starts it before any interest).</summary>
    public static async Task<RecipePair> StartAsync()
    {
        var recipe = NatsReadmeRecipe.Load();
        var upstream = await NatsNode.StartAsync(NatsReadmeRecipe.UpstreamName, recipe.UpstreamServerArgs);
        NatsNode? downstream = null;
        BlackBoxHost? host = null;
        try
        {
            downstream = await NatsNode.StartAsync(NatsReadmeRecipe.DownstreamName, recipe.DownstreamServerArgs);
            host = await BlackBoxHost.StartAsync(recipe.AppSettingsFor(downstream, upstream));
            await host.WaitUntilRunningAsync();
            var client = NpmNatsClient.Start();
            await client.ConnectAsync("a", upstream.Server.Port, NatsReadmeRecipe.User, NatsReadmeRecipe.Password);
            await client.ConnectAsync("b", downstream.Server.Port);
            return new RecipePair(recipe, upstream, downstream, host, client);
        }
        catch
        {
            if (host is not null)
            {
                await host.DisposeAsync();
            }

            if (downstream is not null)
            {
                await downstream.DisposeAsync();
            }

            await upstream.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until the upstream holds a subscription on <paramref name="subject"/>: the link has taken up the downstream's interest.</summary>
    public Task WaitForUpstreamInterestAsync(string subject) =>
        Eventually.UntilAsync(
            Upstream.SubscribedSubjectsAsync,
            subjects => subjects.Contains(subject),
            $"the link to subscribe to {subject} on the upstream");

    /// <summary>
    /// Waits until the upstream holds no subscription on <paramref name="subject"/>: the link has let go of interest that
    /// left the downstream (it does so once two of the host's /subsz polls in a row have not seen it).
    /// </summary>
    public Task WaitForNoUpstreamInterestAsync(string subject) =>
        Eventually.UntilAsync(
            () => Upstream.SubscriptionCountAsync(subject),
            count => count == 0,
            $"the link to unsubscribe from {subject} on the upstream",
            TimeSpan.FromSeconds(30));

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Host.DisposeAsync();
        await Downstream.DisposeAsync();
        await Upstream.DisposeAsync();
    }
}
