using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Federation.Core.InMemory.Subjects;

/// <summary>The in-memory subject servers an <see cref="InMemorySubjectTransport"/> can reach, by name (case-insensitive). Thread-safe.</summary>
public sealed class InMemorySubjectServerRegistry
{
    private readonly ConcurrentDictionary<string, InMemorySubjectServer> _servers = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Registers a server.</summary>
    /// <exception cref="ArgumentException">A server with the same name is already registered.</exception>
    public void Add(InMemorySubjectServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (!_servers.TryAdd(server.Name, server))
        {
            throw new ArgumentException($"An in-memory subject server named '{server.Name}' is already registered.", nameof(server));
        }
    }

    /// <summary>
    /// Returns the server named <paramref name="name"/>, creating and registering it when missing: the way to start an
    /// embedded server. Connecting never creates one (see <see cref="InMemorySubjectTransport"/>).
    /// </summary>
    public InMemorySubjectServer GetOrAdd(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return _servers.GetOrAdd(name, static serverName => new InMemorySubjectServer(serverName));
    }

    /// <summary>The registered names, sorted, for error messages.</summary>
    internal IReadOnlyList<string> Names => [.. _servers.Keys.Order(StringComparer.OrdinalIgnoreCase)];

    /// <summary>Looks a server up by name.</summary>
    public bool TryGet(string name, [MaybeNullWhen(false)] out InMemorySubjectServer server) => _servers.TryGetValue(name, out server);
}
