using System.Collections.Concurrent;
using Federation.Core.Transport;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Federation.Nats.JetStream;

/// <summary>
/// Finds or creates the stream that captures an exchange's subjects (<c>X</c> and <c>X.&gt;</c>), once per exchange and
/// connection: the stream the URI names with <c>stream=</c> (which must exist), or else <c>federation-&lt;exchange&gt;</c>,
/// created when missing with file storage and the URI's duplicate window.
/// </summary>
/// <remarks>
/// An upstream stream is created with interest retention (a message stays until every consumer, that is every link,
/// acknowledged it, so the stream does not grow while links keep up); a downstream stream with limits retention, so that
/// what arrives stays for the downstream's own consumers. A stream that exists is used as it is.
/// </remarks>
internal sealed class JetStreamStreams(INatsJSContext js, JetStreamUriSettings settings, string displayUri)
{
    private readonly ConcurrentDictionary<string, Task<string>> _ensured = new(StringComparer.Ordinal);

    /// <summary>The name of the stream for <paramref name="exchange"/>, creating it with <paramref name="retention"/> if needed.</summary>
    public Task<string> EnsureAsync(string exchange, StreamConfigRetention retention)
    {
        if (_ensured.TryGetValue(exchange, out var known) && !known.IsFaulted && !known.IsCanceled)
        {
            return known;
        }

        // A failure is not remembered: the next call (the link's next attempt) tries again.
        var attempt = EnsureCoreAsync(exchange, retention);
        _ensured[exchange] = attempt;
        return attempt;
    }

    private async Task<string> EnsureCoreAsync(string exchange, StreamConfigRetention retention)
    {
        if (settings.Stream is { } named)
        {
            try
            {
                await js.GetStreamAsync(named, request: null, CancellationToken.None).ConfigureAwait(false);
                return named;
            }
            catch (NatsJSApiException ex) when (ex.Error.Code == JetStreamErrors.NotFound)
            {
                throw new ResourceNotFoundException($"The stream '{named}' that '{JetStreamUriSettings.StreamKey}={named}' names does not exist on {displayUri}.", ex);
            }
            catch (Exception ex)
            {
                throw JetStreamErrors.Map(ex, $"look up the stream '{named}'", displayUri);
            }
        }

        var name = JetStreamNames.StreamFor(exchange);
        try
        {
            await js.GetStreamAsync(name, request: null, CancellationToken.None).ConfigureAwait(false);
            return name;
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == JetStreamErrors.NotFound)
        {
            // Not there yet: create it below.
        }
        catch (Exception ex)
        {
            throw JetStreamErrors.Map(ex, $"look up the stream '{name}'", displayUri);
        }

        var subjects = JetStreamNames.SubjectsOf(exchange);
        var config = new StreamConfig(name, subjects)
        {
            Description = $"Federation: captures exchange '{exchange}'",
            Retention = retention,
            Storage = StreamConfigStorage.File,
            DuplicateWindow = settings.DuplicateWindow,
        };
        try
        {
            await js.CreateStreamAsync(config, CancellationToken.None).ConfigureAwait(false);
            return name;
        }
        catch (NatsJSApiException ex) when (ex.Error.ErrCode == JetStreamErrors.StreamNameInUse)
        {
            return name; // another link created it at the same moment
        }
        catch (NatsJSApiException ex) when (ex.Error.ErrCode == JetStreamErrors.SubjectsOverlap)
        {
            throw new PreconditionFailedException(
                $"The subjects '{subjects[0]}' and '{subjects[1]}' of exchange '{exchange}' overlap a stream that exists on {displayUri}, so the stream '{name}' cannot be created; name the existing stream with '{JetStreamUriSettings.StreamKey}=NAME'.",
                ex);
        }
        catch (Exception ex)
        {
            throw JetStreamErrors.Map(ex, $"create the stream '{name}'", displayUri);
        }
    }
}
