using System.Reflection;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Architecture;

/// <summary>
/// Every log event of the libraries has an id of its own: the README and operators' alerts name events by id, so two
/// messages sharing one would make an alert fire for the wrong thing. (Three pairs of helpers' branches picked the same
/// new ids on one day; only this catches that at merge.)
/// </summary>
public sealed class LogEventIdTests
{
    [Fact]
    public void No_two_log_messages_of_the_libraries_share_an_event_id()
    {
        Assembly[] libraries = [typeof(FederationEngine).Assembly, typeof(Federation.Amqp.AmqpTransport).Assembly, typeof(Federation.Nats.Transport.NatsTransport).Assembly];
        var messages = libraries
            .SelectMany(assembly => assembly.GetTypes())
            .SelectMany(type => type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(method => (Method: method, Attribute: method.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(m => m.Attribute is not null)
            .Select(m => (Id: m.Attribute!.EventId, Name: $"{m.Method.DeclaringType!.FullName}.{m.Method.Name}"))
            .ToList();

        Assert.True(messages.Count > 100, $"only {messages.Count} log messages found: is the attribute still read this way?");
        var shared = messages.GroupBy(m => m.Id).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(m => m.Name))}").ToList();
        Assert.True(shared.Count == 0, "event ids used twice: " + string.Join("; ", shared));
    }
}
