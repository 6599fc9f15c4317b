using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>
/// An embedded, in-process message broker with RabbitMQ (AMQP 0-9-1) semantics: virtual hosts, exchanges of type direct,
/// fanout, topic, headers and <c>x-federation-upstream</c>, queues, consumers with prefetch and acknowledgements,
/// publisher confirms and a topology event feed. It is the default transport for the quickstart, tests and simulations,
/// and offers fault injection (<see cref="Stop"/>, <see cref="DropConnections"/>, <see cref="PublishInterceptor"/>).
/// </summary>
/// <remarks>Thread-safe. Reach it through <see cref="InMemoryTransport"/> with <c>memory://[user:pass@]name[/vhost]</c>, or directly with <see cref="ConnectAsync"/>.</remarks>
public sealed class InMemoryBroker
{
    /// <summary>The default of <see cref="MaxMessageSize"/>: 128 MiB, RabbitMQ's default <c>max_message_size</c>.</summary>
    public const int DefaultMaxMessageSize = 128 * 1024 * 1024;

    /// <summary>The virtual host every broker has.</summary>
    public const string DefaultVirtualHost = "/";

    private readonly Lock sync = new();
    private readonly Dictionary<string, BrokerVirtualHost> virtualHosts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> passwordsByUser = new(StringComparer.Ordinal);
    private readonly HashSet<InMemoryConnection> connections = [];
    private volatile string clusterName;
    private bool running = true;

    /// <summary>Creates a running broker with the virtual host <c>/</c>.</summary>
    /// <param name="name">The broker's name: the host part of its <c>memory://</c> URIs.</param>
    /// <param name="clusterName">The cluster name it advertises; defaults to <paramref name="name"/>.</param>
    /// <param name="timeProvider">Clock and timers for <c>x-expires</c> and <c>x-message-ttl</c>; defaults to <see cref="TimeProvider.System"/>.</param>
    public InMemoryBroker(string name, string? clusterName = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        this.clusterName = clusterName ?? name;
        TimeProvider = timeProvider ?? TimeProvider.System;
        virtualHosts.Add(DefaultVirtualHost, new BrokerVirtualHost(this, DefaultVirtualHost));
    }

    /// <summary>The broker's name: the host part of its <c>memory://</c> URIs.</summary>
    public string Name { get; }

    /// <summary>The cluster name advertised to connections opened from now on (<see cref="IBrokerConnection.ClusterName"/>).</summary>
    public string ClusterName
    {
        get => clusterName;
        set
        {
            ArgumentException.ThrowIfNullOrEmpty(value);
            clusterName = value;
        }
    }

    /// <summary>The clock and timers the broker uses.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>
    /// Whether the broker knows the <c>x-federation-upstream</c> exchange type (default <see langword="true"/>). When false,
    /// declaring it throws <see cref="ExchangeTypeNotSupportedException"/>, as an upstream without the federation plugin does.
    /// </summary>
    public bool SupportsFederationExchangeType { get; set; } = true;

    /// <summary>
    /// Largest accepted message body in bytes (RabbitMQ's <c>max_message_size</c>); a larger publish fails with
    /// <see cref="MessageTooLargeException"/>, as the AMQP transport reports one that RabbitMQ refused for its size.
    /// </summary>
    public int MaxMessageSize { get; set; } = DefaultMaxMessageSize;

    /// <summary>Decides, before routing, what happens to each publish: for testing nacks and connections lost before a confirm.</summary>
    /// <remarks>Called on the publishing thread, outside broker locks; <see langword="null"/> accepts everything.</remarks>
    public Func<PublishContext, PublishOutcome>? PublishInterceptor { get; set; }

    /// <summary>Number of open connections.</summary>
    public int ConnectionCount
    {
        get
        {
            lock (sync)
            {
                return connections.Count;
            }
        }
    }

    /// <summary>Names of the open connections.</summary>
    public IReadOnlyList<string> ConnectionNames
    {
        get
        {
            lock (sync)
            {
                return [.. connections.Select(c => c.Name)];
            }
        }
    }

    /// <summary>Adds a virtual host; adding an existing one is a no-op.</summary>
    public void AddVirtualHost(string virtualHost)
    {
        ArgumentException.ThrowIfNullOrEmpty(virtualHost);
        lock (sync)
        {
            if (!virtualHosts.ContainsKey(virtualHost))
            {
                virtualHosts.Add(virtualHost, new BrokerVirtualHost(this, virtualHost));
            }
        }
    }

    /// <summary>Adds a user or changes its password. Once any user exists, connections must present valid credentials.</summary>
    public void AddUser(string user, string password)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        ArgumentNullException.ThrowIfNull(password);
        lock (sync)
        {
            passwordsByUser[user] = password;
        }
    }

    /// <summary>Opens a connection without credentials (so it fails once users were added).</summary>
    /// <param name="virtualHost">The virtual host to connect to.</param>
    /// <param name="connectionName">The connection's name, as listed in <see cref="ConnectionNames"/>.</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <exception cref="BrokerUnreachableException">The broker is stopped or has no such virtual host.</exception>
    /// <exception cref="AuthenticationFailedException">The broker has users.</exception>
    public ValueTask<IBrokerConnection> ConnectAsync(string virtualHost = DefaultVirtualHost, string connectionName = "client", CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<IBrokerConnection>(cancellationToken);
        }

        var displayUri = virtualHost == DefaultVirtualHost ? $"memory://{Name}" : $"memory://{Name}/{Uri.EscapeDataString(virtualHost)}";
        try
        {
            return ValueTask.FromResult<IBrokerConnection>(Connect(virtualHost, connectionName, user: null, password: null, displayUri));
        }
        catch (BrokerUnreachableException error)
        {
            return ValueTask.FromException<IBrokerConnection>(error);
        }
    }

    /// <summary>
    /// Simulates a broker outage: every open connection is lost (their and their consumers' <c>Completion</c> fault with
    /// <see cref="ConnectionLostException"/>, unacknowledged messages return to their queues as redelivered, exclusive queues
    /// are deleted) and new connections fail with <see cref="BrokerUnreachableException"/> until <see cref="Start"/>.
    /// Everything else survives.
    /// </summary>
    public void Stop()
    {
        lock (sync)
        {
            running = false;
        }

        DropConnections();
    }

    /// <summary>Accepts connections again after <see cref="Stop"/>.</summary>
    public void Start()
    {
        lock (sync)
        {
            running = true;
        }
    }

    /// <summary>Loses every current connection, as <see cref="Stop"/> does, but keeps accepting new ones.</summary>
    public void DropConnections()
    {
        InMemoryConnection[] lost;
        lock (sync)
        {
            lost = [.. connections];
        }

        foreach (var connection in lost)
        {
            connection.Close(new ConnectionLostException($"Connection '{connection.Name}' to {connection.DisplayUri} was lost (dropped by in-memory broker '{Name}')."));
        }
    }

    /// <summary>Whether the exchange exists; the default exchange <c>""</c> always does.</summary>
    public bool ExchangeExists(string virtualHost, string name) => GetVirtualHost(virtualHost).ExchangeExists(name);

    /// <summary>The exchange as declared, or <see langword="null"/>.</summary>
    public ExchangeSpec? GetExchange(string virtualHost, string name) => GetVirtualHost(virtualHost).GetExchange(name);

    /// <summary>The bindings whose source is <paramref name="sourceExchange"/>, in the order they were added.</summary>
    public IReadOnlyList<BindingSpec> GetBindings(string virtualHost, string sourceExchange) => GetVirtualHost(virtualHost).GetBindings(sourceExchange);

    /// <summary>Whether the queue exists.</summary>
    public bool QueueExists(string virtualHost, string name) => GetVirtualHost(virtualHost).QueueExists(name);

    /// <summary>Whether the delivery ledger <paramref name="name"/> exists (opened by a link with duplicate suppression, not deleted since).</summary>
    public bool LedgerExists(string virtualHost, string name)
    {
        var host = GetVirtualHost(virtualHost);
        lock (host.Sync)
        {
            return host.Ledgers.ContainsKey(name);
        }
    }

    /// <summary>The queue as declared, or <see langword="null"/>.</summary>
    public QueueSpec? GetQueue(string virtualHost, string name) => GetVirtualHost(virtualHost).GetQueue(name);

    /// <summary>
    /// Deletes a queue whoever declared it, as an operator does with <c>rabbitmqctl delete_queue</c> or the management API:
    /// also an exclusive queue whose connection still lives (a link lease, say). Its consumers are cancelled, and whoever
    /// watches it learns that it is gone. Deleting a missing queue is a no-op.
    /// </summary>
    public void DeleteQueue(string virtualHost, string name) => GetVirtualHost(virtualHost).DeleteQueue(name);

    /// <summary>Messages ready for delivery in the queue (not the unacknowledged ones); 0 for a missing queue.</summary>
    public int GetMessageCount(string virtualHost, string queue) => GetVirtualHost(virtualHost).GetMessageCount(queue);

    /// <summary>Names of the queues in the virtual host.</summary>
    public IReadOnlyList<string> GetQueueNames(string virtualHost) => GetVirtualHost(virtualHost).GetQueueNames();

    /// <summary>Names of the declared exchanges in the virtual host (without the default exchange).</summary>
    public IReadOnlyList<string> GetExchangeNames(string virtualHost) => GetVirtualHost(virtualHost).GetExchangeNames();

    /// <summary>Opens a connection after checking that the broker runs, the virtual host exists and the credentials are valid.</summary>
    internal InMemoryConnection Connect(string virtualHost, string connectionName, string? user, string? password, string displayUri)
    {
        lock (sync)
        {
            if (!running)
            {
                throw new BrokerUnreachableException($"In-memory broker '{Name}' is stopped ({displayUri}).");
            }

            if (!virtualHosts.TryGetValue(virtualHost, out var host))
            {
                throw new BrokerUnreachableException($"In-memory broker '{Name}' has no virtual host '{virtualHost}' ({displayUri}).");
            }

            if (passwordsByUser.Count > 0
                && (user is null || !passwordsByUser.TryGetValue(user, out var expected) || !string.Equals(expected, password, StringComparison.Ordinal)))
            {
                // The user is not named: in "memory://TOKEN@hub" the user part may well be a token.
                throw new AuthenticationFailedException($"ACCESS_REFUSED - in-memory broker '{Name}' refused the credentials ({displayUri}).");
            }

            var connection = new InMemoryConnection(this, host, connectionName, displayUri);
            connections.Add(connection);
            return connection;
        }
    }

    /// <summary>The refusal of a body over <see cref="MaxMessageSize"/>; <paramref name="index"/> is its place in a ledger unit.</summary>
    internal MessageTooLargeException TooLarge(string exchange, string routingKey, int size, int index) =>
        new($"PRECONDITION_FAILED - message size {size} is larger than the configured max size {MaxMessageSize} of in-memory broker '{Name}'; the message to exchange '{exchange}' with routing key '{routingKey}' was not published.", index);

    internal void Unregister(InMemoryConnection connection)
    {
        lock (sync)
        {
            connections.Remove(connection);
        }
    }

    private BrokerVirtualHost GetVirtualHost(string virtualHost)
    {
        lock (sync)
        {
            return virtualHosts.TryGetValue(virtualHost, out var host)
                ? host
                : throw new ArgumentException($"In-memory broker '{Name}' has no virtual host '{virtualHost}'.", nameof(virtualHost));
        }
    }
}
