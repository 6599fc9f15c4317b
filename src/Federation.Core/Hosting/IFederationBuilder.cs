using Microsoft.Extensions.DependencyInjection;

namespace Federation.Core.Hosting;

/// <summary>Returned by <c>AddFederation()</c>; transports and configuration sources hang off it as extension methods.</summary>
public interface IFederationBuilder
{
    /// <summary>The service collection federation is registered in.</summary>
    IServiceCollection Services { get; }
}

internal sealed class FederationBuilder(IServiceCollection services) : IFederationBuilder
{
    public IServiceCollection Services { get; } = services;
}
