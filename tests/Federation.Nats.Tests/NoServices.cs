namespace Federation.Nats.Tests;

/// <summary>A service provider with no services: enough to run a registration's factory (its optional services are absent).</summary>
internal sealed class NoServices : IServiceProvider
{
    public static readonly NoServices Instance = new();

    public object? GetService(Type serviceType) => null;
}
