using System.Reflection;
using Federation.Nats.JetStream;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// Instances that start the same link at the same moment all create the exchange's stream, and nats-server 2.9 can answer
/// the create that loses the race with "subjects overlap with an existing stream" (10065) instead of "stream name already in
/// use": seen in CI (JetStreamAckWaitTests, two connections binding at once), where the link failed its start with a
/// precondition error naming a stream that was its own. The race itself is not reproducible at will, so the server's
/// answers are played by a fake context: not found, then the overlap, then the stream there.
/// </summary>
public sealed class JetStreamStreamCreateRaceTests
{
    private static readonly JetStreamUriSettings Settings = new(Stream: null, JetStreamUriSettings.DefaultAckWait, JetStreamUriSettings.DefaultDuplicateWindow);

    [Fact]
    public async Task A_create_answered_with_an_overlap_by_the_stream_of_the_same_name_takes_that_stream()
    {
        var js = RacedContext.Create(streamThereAfterCreate: true);

        Assert.Equal("federation-orders", await new JetStreamStreams(js, Settings, "nats://127.0.0.1:4222").EnsureAsync("orders"));
    }

    [Fact]
    public async Task A_create_that_overlaps_another_stream_is_still_refused_naming_the_subjects()
    {
        var js = RacedContext.Create(streamThereAfterCreate: false);

        var refused = await Assert.ThrowsAsync<Core.Transport.PreconditionFailedException>(() => new JetStreamStreams(js, Settings, "nats://127.0.0.1:4222").EnsureAsync("orders"));
        Assert.Contains("'orders' and 'orders.>'", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A JetStream context whose stream lookups say "not found" until a create was tried, which fails with the overlap; after
    /// it, the stream is there when <c>streamThereAfterCreate</c> (the other instance's create), else still missing.
    /// </summary>
    public class RacedContext : DispatchProxy
    {
        private bool _createTried;
        private bool _streamThereAfterCreate;

        public static INatsJSContext Create(bool streamThereAfterCreate)
        {
            var js = DispatchProxy.Create<INatsJSContext, RacedContext>();
            ((RacedContext)(object)js)._streamThereAfterCreate = streamThereAfterCreate;
            return js;
        }

#pragma warning disable CA2012 // A proxy returns each ValueTask boxed, to the one caller that awaits it.
        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) => targetMethod?.Name switch
        {
            nameof(INatsJSContext.GetStreamAsync) when _createTried && _streamThereAfterCreate => ValueTask.FromResult(DispatchProxy.Create<INatsJSStream, AnyStream>()),
            nameof(INatsJSContext.GetStreamAsync) => ValueTask.FromException<INatsJSStream>(Api(404, 10059, "stream not found")),
            nameof(INatsJSContext.CreateStreamAsync) => Tried(),
            _ => throw new NotSupportedException(targetMethod?.Name),
        };
#pragma warning restore CA2012

        private ValueTask<INatsJSStream> Tried()
        {
            _createTried = true;
            return ValueTask.FromException<INatsJSStream>(Api(400, 10065, "subjects overlap with an existing stream"));
        }

        private static NatsJSApiException Api(int code, int errCode, string description) =>
            new(new ApiError { Code = code, ErrCode = errCode, Description = description });
    }

    /// <summary>A stream that only exists: nothing of it is read.</summary>
    public class AnyStream : DispatchProxy
    {
        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) => throw new NotSupportedException(targetMethod?.Name);
    }
}
