using System.Reflection;
using Microsoft.Extensions.Logging;

namespace FederationHost.Tests;

/// <summary>
/// The host's own log events have ids that no library event uses: a host logs both, and operators' alerts name events by
/// id (until 6 Dec 2026 the host's 4001–4005 were also the Collectives brokers' ids). The libraries among themselves are
/// checked by Federation.Core.Tests' <c>LogEventIdTests</c>; this adds the host.
/// </summary>
public sealed class HostLogEventIdTests
{
    [Fact]
    public void No_log_message_of_the_host_shares_an_event_id_with_another()
    {
        Assembly[] assemblies =
        [
            typeof(FederationHostApp).Assembly,
            typeof(Federation.Core.FederationEngine).Assembly,
            typeof(Federation.Amqp.AmqpTransport).Assembly,
            typeof(Federation.Nats.Transport.NatsTransport).Assembly,
        ];
        var messages = assemblies
            .SelectMany(assembly => assembly.GetTypes())
            .SelectMany(type => type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(method => (Method: method, Attribute: method.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(m => m.Attribute is not null)
            .Select(m => (Id: m.Attribute!.EventId, Host: m.Method.DeclaringType!.Assembly == assemblies[0], Name: $"{m.Method.DeclaringType!.FullName}.{m.Method.Name}"))
            .ToList();

        Assert.True(messages.Count(m => m.Host) >= 5, $"only {messages.Count(m => m.Host)} log messages of the host found: is the attribute still read this way?");
        var shared = messages
            .GroupBy(m => m.Id)
            .Where(g => g.Count() > 1 && g.Any(m => m.Host))
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(m => m.Name))}")
            .ToList();
        Assert.True(shared.Count == 0, "event ids used twice: " + string.Join("; ", shared));
    }
}
