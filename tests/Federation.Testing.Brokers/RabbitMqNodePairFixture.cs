using Xunit;

namespace Federation.Testing.Brokers;

/// <summary>
/// Two real RabbitMQ nodes, an upstream and a downstream, with distinct cluster names, started in parallel. Derive a
/// sealed class per xunit collection or class fixture: each derived type gets its own pair of nodes.
/// </summary>
public abstract class RabbitMqNodePairFixture : IAsyncLifetime
{
    private RabbitMqNode? upstream;
    private RabbitMqNode? downstream;

    /// <summary>The node messages are published to.</summary>
    public RabbitMqNode Upstream => upstream ?? throw new InvalidOperationException("Not started.");

    /// <summary>The node the federation engine runs against.</summary>
    public RabbitMqNode Downstream => downstream ?? throw new InvalidOperationException("Not started.");

    /// <summary>
    /// Lines appended to the downstream node's rabbitmq.conf (none by default), for example <c>max_message_size = 4096</c>
    /// for a downstream that takes less than its upstream.
    /// </summary>
    protected virtual IReadOnlyList<string> DownstreamConfiguration => [];

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        var starting = new[]
        {
            RabbitMqNode.StartNewAsync(),
            RabbitMqNode.StartNewAsync(RabbitMqNode.DefaultPlugins, DownstreamConfiguration),
        };
        try
        {
            var started = await Task.WhenAll(starting).ConfigureAwait(false);
            (upstream, downstream) = (started[0], started[1]);
        }
        catch
        {
            // The node that did start is stopped here and now, whether or not the test framework disposes a fixture whose
            // start failed (the fields stay null, so a later DisposeAsync does nothing twice).
            foreach (var task in starting)
            {
                if (task.IsCompletedSuccessfully)
                {
                    await task.Result.DisposeAsync().ConfigureAwait(false);
                }
            }

            throw;
        }
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (downstream is not null)
        {
            await downstream.DisposeAsync().ConfigureAwait(false);
        }

        if (upstream is not null)
        {
            await upstream.DisposeAsync().ConfigureAwait(false);
        }
    }
}
