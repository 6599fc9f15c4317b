using Federation.Core.Transport;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Federation.Nats.JetStream;

/// <summary>Client exceptions of JetStream calls as the transport exceptions the engine understands; messages name the URI redacted.</summary>
internal static class JetStreamErrors
{
    /// <summary>JetStream's API error code for a stream or consumer that does not exist.</summary>
    public const int NotFound = 404;

    /// <summary>JetStream's <c>err_code</c> for "subjects overlap with an existing stream".</summary>
    public const int SubjectsOverlap = 10065;

    /// <summary>JetStream's <c>err_code</c> for "stream name already in use with a different configuration".</summary>
    public const int StreamNameInUse = 10058;

    /// <summary>JetStream's <c>err_code</c> for "message size exceeds maximum allowed" (the stream's <c>max_msg_size</c>).</summary>
    public const int MessageTooLarge = 10054;

    /// <summary>JetStream's <c>err_code</c> for "consumer max ack pending exceeds system limit" (the server's or the account's <c>max_ack_pending</c>).</summary>
    public const int MaxAckPendingOverLimit = 10121;

    /// <summary>"deliver policy can not be updated": a create met a consumer of that name that another instance created a moment before with another start.</summary>
    public const int DeliverPolicyNotUpdatable = 10012;

    /// <summary>
    /// Maps a failed JetStream API call (<paramref name="what"/>, for the message) on <paramref name="displayUri"/>; the
    /// server's and the client's texts lose the credentials of <paramref name="auth"/>.
    /// </summary>
    public static Exception Map(Exception exception, string what, string displayUri, NatsOpts? auth) => exception switch
    {
        TransportException or OperationCanceledException => exception,
        NatsJSApiException api when api.Error.Code == NotFound =>
            new ResourceNotFoundException($"JetStream on {displayUri} could not {what}: {Transport.NatsErrorText.Scrub(api.Error.Description, auth)} (err_code {api.Error.ErrCode}).", Transport.NatsErrorText.SafeInner(api, auth)),
        NatsJSApiException api =>
            new PreconditionFailedException($"JetStream on {displayUri} refused to {what}: {Transport.NatsErrorText.Scrub(api.Error.Description, auth)} (code {api.Error.Code}, err_code {api.Error.ErrCode}).", Transport.NatsErrorText.SafeInner(api, auth)),
        NatsNoRespondersException or NatsJSApiNoResponseException =>
            new BrokerUnreachableException($"{displayUri} has '{JetStreamUriSettings.JetStreamKey}=true' but the server does not answer JetStream requests (start nats-server with -js, or leave the key out) while trying to {what}.", Transport.NatsErrorText.SafeInner(exception, auth)),
        NatsException => new ConnectionLostException($"JetStream on {displayUri} failed to {what}: {Transport.NatsErrorText.Message(exception, auth)}", Transport.NatsErrorText.SafeInner(exception, auth)),
        _ => exception,
    };
}
