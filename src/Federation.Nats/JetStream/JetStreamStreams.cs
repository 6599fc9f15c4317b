using System.Collections.Concurrent;
using Federation.Core.Transport;
using Federation.Nats.Transport;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Federation.Nats.JetStream;

/// <summary>
/// Finds or creates the stream that captures an exchange's subjects (<c>X</c> and <c>X.&gt;</c>), once per exchange and
/// connection: the stream the URI names with <c>stream=</c> (which must exist), or else <c>federation-&lt;exchange&gt;</c>,
/// created when missing with file storage and the URI's duplicate window.
/// </summary>
/// <remarks>
/// A created stream has limits retention and no limits: it keeps everything until the operator sets limits or purges it.
/// Interest retention (a message goes once every link acknowledged it) would bound an upstream stream, but on nats-server
/// 2.9.10 an interest-retention stream lost acknowledged-later messages after a kill -9 in the durable-link tests (about
/// one run in eight), so the link does not create one; a stream named with <c>stream=</c> is used as it is, with
/// whatever retention and limits it has. A stream that exists is used as it is.
/// <para>A stream can disappear under a running link (an operator deletes it): <see cref="Forget"/> makes the next
/// <see cref="EnsureAsync"/> look again, so a stream the link creates is created again, and a missing named one is
/// reported by name.</para>
/// </remarks>
/// <param name="js">The JetStream context.</param>
/// <param name="settings">The URI's JetStream settings.</param>
/// <param name="displayUri">The redacted URI, for messages.</param>
/// <param name="captured">Told, after each successful ensure, the exchange, the stream and the subjects the stream captures.</param>
internal sealed class JetStreamStreams(INatsJSContext js, JetStreamUriSettings settings, string displayUri, Action<string, string, ICollection<string>>? captured = null)
{
    private readonly ConcurrentDictionary<string, Task<string>> _ensured = new(StringComparer.Ordinal);
    // The streams this connection created, by name, with when the server says it created them (one incarnation each).
    private readonly ConcurrentDictionary<string, DateTimeOffset> _createdHere = new(StringComparer.Ordinal);

    /// <summary>
    /// Whether this connection created the stream's incarnation that was created at <paramref name="created"/>: what it
    /// holds was captured for the link since then, none of it forwarded yet.
    /// </summary>
    public bool CreatedHere(string stream, DateTimeOffset created) => _createdHere.TryGetValue(stream, out var at) && at == created;

    /// <summary>Forgets what was ensured: the next <see cref="EnsureAsync"/> of each exchange looks the stream up again (and creates it when it is the link's own).</summary>
    public void Forget() => _ensured.Clear();

    /// <summary>The name of the stream for <paramref name="exchange"/>, creating it if needed.</summary>
    public Task<string> EnsureAsync(string exchange)
    {
        if (_ensured.TryGetValue(exchange, out var known) && !known.IsFaulted && !known.IsCanceled)
        {
            return known;
        }

        // A failure is not remembered: the next call (the link's next attempt) tries again.
        var attempt = EnsureCoreAsync(exchange);
        _ensured[exchange] = attempt;
        return attempt;
    }

    private async Task<string> EnsureCoreAsync(string exchange)
    {
        if (settings.Stream is { } named)
        {
            INatsJSStream stream;
            try
            {
                stream = await js.GetStreamAsync(named, request: null, CancellationToken.None).ConfigureAwait(false);
            }
            catch (NatsJSApiException ex) when (ex.Error.Code == JetStreamErrors.NotFound)
            {
                throw new ResourceNotFoundException($"The stream '{named}' that '{JetStreamUriSettings.StreamKey}={named}' names does not exist on {displayUri}.", ex);
            }
            catch (Exception ex)
            {
                throw JetStreamErrors.Map(ex, $"look up the stream '{named}'", displayUri, js.Connection.Opts);
            }

            RefuseIfNotCapturing(named, stream.Info.Config.Subjects, exchange);
            captured?.Invoke(exchange, named, stream.Info.Config.Subjects ?? []);
            return named;
        }

        var name = JetStreamNames.StreamFor(exchange);
        var subjects = JetStreamNames.SubjectsOf(exchange);
        try
        {
            var existing = await js.GetStreamAsync(name, request: null, CancellationToken.None).ConfigureAwait(false);
            captured?.Invoke(exchange, name, existing.Info.Config.Subjects ?? []);
            return name;
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == JetStreamErrors.NotFound)
        {
            // Not there yet: create it below.
        }
        catch (Exception ex)
        {
            throw JetStreamErrors.Map(ex, $"look up the stream '{name}'", displayUri, js.Connection.Opts);
        }

        var config = new StreamConfig(name, subjects)
        {
            Description = $"Federation: captures exchange '{exchange}'",
            Retention = StreamConfigRetention.Limits,
            Storage = StreamConfigStorage.File,
            DuplicateWindow = settings.DuplicateWindow,
        };
        try
        {
            var made = await js.CreateStreamAsync(config, CancellationToken.None).ConfigureAwait(false);
            _createdHere[name] = made.Info.Created;
            captured?.Invoke(exchange, name, subjects);
            return name;
        }
        catch (NatsJSApiException ex) when (ex.Error.ErrCode == JetStreamErrors.StreamNameInUse)
        {
            captured?.Invoke(exchange, name, subjects);
            return name; // another link created it at the same moment
        }
        catch (NatsJSApiException ex) when (ex.Error.ErrCode == JetStreamErrors.SubjectsOverlap)
        {
            // Another link (another instance's) may have created this very stream at the same moment: the server can check
            // the subjects against it before it sees that the name is taken (seen with nats-server 2.9.10).
            if (await ExistsAsync(name).ConfigureAwait(false))
            {
                captured?.Invoke(exchange, name, subjects);
                return name;
            }

            throw new PreconditionFailedException(
                $"The subjects '{subjects[0]}' and '{subjects[1]}' of exchange '{exchange}' overlap a stream that exists on {displayUri}, so the stream '{name}' cannot be created; name the existing stream with '{JetStreamUriSettings.StreamKey}=NAME'.",
                ex);
        }
        catch (Exception ex)
        {
            throw JetStreamErrors.Map(ex, $"create the stream '{name}'", displayUri, js.Connection.Opts);
        }
    }

    /// <summary>Whether the stream <paramref name="name"/> exists now; false too when that cannot be told (the caller reports its own error).</summary>
    private async Task<bool> ExistsAsync(string name)
    {
        try
        {
            await js.GetStreamAsync(name, request: null, CancellationToken.None).ConfigureAwait(false);
            return true;
        }
#pragma warning disable CA1031 // Any failure to look means "not known to exist": the overlap is then reported as it is.
        catch (Exception)
#pragma warning restore CA1031
        {
            return false;
        }
    }

    /// <summary>
    /// Refuses a named stream whose subjects capture nothing of the exchange: a link would run on it and federate nothing
    /// (upstream), or have every publish refused (downstream). A stream without subjects of its own (one that sources
    /// or mirrors others) cannot be judged from its subjects and is used as it is.
    /// </summary>
    private void RefuseIfNotCapturing(string named, ICollection<string>? streamSubjects, string exchange)
    {
        if (streamSubjects is not { Count: > 0 })
        {
            return;
        }

        var subjects = JetStreamNames.SubjectsOf(exchange);
        if (streamSubjects.Any(captured => subjects.Any(subject => NatsSubjectMapping.SubjectsOverlap(captured, subject))))
        {
            return;
        }

        throw new PreconditionFailedException(
            $"The stream '{named}' that '{JetStreamUriSettings.StreamKey}={named}' names on {displayUri} captures {string.Join(", ", streamSubjects.Select(x => $"'{x}'"))}, none of the subjects of exchange '{exchange}' ('{subjects[0]}', '{subjects[1]}'); name a stream that captures them, or leave '{JetStreamUriSettings.StreamKey}' out.");
    }
}
