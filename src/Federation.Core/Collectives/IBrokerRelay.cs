using Federation.Core.Transport.Messaging;

namespace Federation.Core.Collectives;

/// <summary>What a broker instance does with one message, in the cluster's envelope format (<see cref="FederationEnvelopeFormat"/>).</summary>
internal interface IBrokerRelay
{
    /// <summary>A request arrived from the federation.</summary>
    ValueTask RelayRequestAsync(SubjectMessage message, ISubjectConnection federation, ISubjectConnection collective, CancellationToken cancellationToken);

    /// <summary>A reply arrived from the collective.</summary>
    ValueTask RelayReplyAsync(SubjectMessage message, ISubjectConnection federation, ISubjectConnection collective, CancellationToken cancellationToken);

    /// <summary>The instance stopped, and relays nothing more: what is still untold is told now, and no timer is left behind.</summary>
    void Stopped();
}
