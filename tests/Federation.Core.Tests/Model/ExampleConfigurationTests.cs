using Federation.Core.InMemory;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;
using Microsoft.Extensions.Configuration;
using Xunit;

namespace Federation.Core.Tests.Model;

/// <summary>The Federation sections the repository ships as examples still pass the (stricter) validation.</summary>
public class ExampleConfigurationTests
{
    public static TheoryData<string> ExampleFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(RepositoryPaths.Root(), "examples"), "appsettings*.json", SearchOption.AllDirectories)
                     .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                                 && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                     .Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(RepositoryPaths.Root(), file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ExampleFiles))]
    public void Each_example_Federation_section_is_valid(string relativePath)
    {
        var configuration = new ConfigurationBuilder().AddJsonFile(Path.Combine(RepositoryPaths.Root(), relativePath)).Build();
        var section = configuration.GetSection(FederationOptions.SectionName);
        if (!section.Exists())
        {
            return;
        }

        var options = new FederationOptions();
        FederationConfigurationReader.Read(section, options);
        var transports = new TransportResolver([new InMemoryTransport(new InMemoryBrokerRegistry()), new AnyUriTransport("amqp", "amqps", "nats", "tls")]);

        Assert.Empty(FederationDefinitions.Validate(options, transports));
    }

    /// <summary>Stands in for the AMQP and NATS transports, which this project does not reference; their URI checks have their own tests.</summary>
    private sealed class AnyUriTransport(params string[] schemes) : ITransport
    {
        public IReadOnlyCollection<string> Schemes => schemes;

        public ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
    }
}
