using System.Collections.Concurrent;
using Federation.Core.Addressing;
using Federation.Core.Collectives;
using Federation.Core.Diagnostics;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// One broker relay (native or Choria, picked by the options' envelope) called directly, without a bus: what it publishes
/// is recorded per side, and what a transport would refuse is recorded as such instead of being published.
/// </summary>
internal sealed class RelayHarness : IDisposable
{
    public const string Cluster = "hostile-relay";
    public const string Instance = "hostile-relay-1";

    private readonly FederationTelemetry _telemetry = new();
    private readonly BrokerMetrics _metrics;

    /// <param name="configure">Changes the options.</param>
    /// <param name="cluster">The cluster name: a test that records the metrics by cluster needs its own.</param>
    /// <param name="logger">Where the relay logs; nowhere when null.</param>
    /// <param name="time">The relay's clock; the system's when null.</param>
    public RelayHarness(Action<FederationBrokerOptions>? configure = null, string cluster = Cluster, ILogger? logger = null, TimeProvider? time = null)
    {
        Options = new FederationBrokerOptions { ClusterName = cluster, FederationUri = "memory://fed", CollectiveUri = "memory://london", InstanceName = Instance };
        configure?.Invoke(Options);
        Subjects = FederationBrokerSubjects.For(cluster, Options.SubjectPrefix);
        _metrics = new BrokerMetrics(_telemetry, cluster, Instance);
        Relay = BrokerRelays.Create(Options, Instance, Subjects, _metrics, logger ?? NullLogger.Instance, time ?? TimeProvider.System);
    }

    public FederationBrokerOptions Options { get; }

    public FederationBrokerSubjects Subjects { get; }

    public IBrokerRelay Relay { get; }

    public RecordingConnection Federation { get; } = new("memory://fed");

    public RecordingConnection Collective { get; } = new("memory://london");

    public FederationBrokerStatistics Statistics => _metrics.Snapshot();

    public ValueTask RequestAsync(SubjectMessage message) => Relay.RelayRequestAsync(message, Federation, Collective, CancellationToken.None);

    public ValueTask ReplyAsync(SubjectMessage message) => Relay.RelayReplyAsync(message, Federation, Collective, CancellationToken.None);

    public void Dispose() => _telemetry.Dispose();
}

/// <summary>A connection that records what is published, and refuses what every subject transport refuses, as they do.</summary>
internal sealed class RecordingConnection(string server) : ISubjectConnection
{
    public ConcurrentQueue<SubjectMessage> Published { get; } = new();

    /// <summary>Messages the transport would have refused (an invalid subject or header): the relay should never send one.</summary>
    public ConcurrentQueue<string> Refused { get; } = new();

    /// <summary>
    /// The server's own refusal of one message, as a transport reports it (NATS: a body over the server's
    /// <c>max_payload</c> is a <see cref="Transport.PublishNackedException"/>), or null to publish it.
    /// </summary>
    public Func<SubjectMessage, Exception?>? ServerRefusal { get; set; }

    public string DisplayUri => server;

    public string? ConnectedServer => server;

    public Task Completion => Task.CompletedTask;

    public ValueTask<ISubjectSubscription> SubscribeAsync(string subject, string? queueGroup, SubjectMessageHandler handler, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    public ValueTask PublishAsync(SubjectMessage message, CancellationToken cancellationToken)
    {
        var problem = SubjectGrammar.Explain(message.Subject, SubjectUse.Publish, wildcardsMustBeWholeTokens: true) ?? SubjectHeaderRules.FindViolation(message);
        if (problem is not null)
        {
            Refused.Enqueue(problem);
            throw new ArgumentException(problem, nameof(message));
        }

        if (ServerRefusal?.Invoke(message) is { } refusal)
        {
            return ValueTask.FromException(refusal);
        }

        Published.Enqueue(message with { Body = message.Body.ToArray() });
        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
