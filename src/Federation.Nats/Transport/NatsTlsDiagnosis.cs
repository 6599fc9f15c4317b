using System.Net.Security;
using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// Watches the server-certificate check of one connection's TLS handshakes and keeps why the last one refused the
/// certificate (<see cref="NatsCertificateRejection"/>), so that a failed connect can say so: the client reports every
/// refusal as the same "rejected by the provided RemoteCertificateValidationCallback".
/// </summary>
/// <remarks>
/// The client builds the handshake options from <see cref="NatsTlsOpts"/> and runs
/// <see cref="NatsTlsOpts.ConfigureClientAuthentication"/> last, after it set its own check (the <c>cacertfile</c> one,
/// or <c>verify_none</c>'s): the hook here wraps whatever check it finds there, decides nothing itself, and only looks
/// closer when that check refused.
/// </remarks>
internal sealed class NatsTlsDiagnosis
{
    private readonly TimeProvider _time;
    private string? _rejection;

    /// <summary>Creates a diagnosis that judges certificate dates by <paramref name="time"/>.</summary>
    public NatsTlsDiagnosis(TimeProvider? time = null) => _time = time ?? TimeProvider.System;

    /// <summary>Why the last handshake refused the server's certificate; null when it did not (or none ran).</summary>
    public string? Rejection => Volatile.Read(ref _rejection);

    /// <summary>
    /// <paramref name="tls"/> with the watch installed, for a connection to <paramref name="url"/>; unchanged when TLS is
    /// off (<see cref="TlsMode.Disable"/>).
    /// </summary>
    /// <remarks>
    /// The client counts a <see cref="NatsTlsOpts.ConfigureClientAuthentication"/> as a TLS setting: under
    /// <see cref="TlsMode.Auto"/> it would then require TLS of a plain <c>nats://</c> server. So Auto is first resolved as
    /// the client resolves it without the hook (Require for <c>tls://</c> or any TLS file, Prefer otherwise).
    /// </remarks>
    public NatsTlsOpts Watch(NatsTlsOpts tls, string url)
    {
        ArgumentNullException.ThrowIfNull(tls);
        ArgumentNullException.ThrowIfNull(url);
        if (tls.Mode == TlsMode.Disable)
        {
            return tls;
        }

        var mode = tls.Mode;
        if (mode == TlsMode.Auto)
        {
            var hasTlsSettings = tls.CertFile is not null || tls.KeyFile is not null || tls.CertBundleFile is not null || tls.CaFile is not null || tls.ConfigureClientAuthentication is not null;
            mode = hasTlsSettings || url.StartsWith("tls://", StringComparison.OrdinalIgnoreCase) ? TlsMode.Require : TlsMode.Prefer;
        }

        var configured = tls.ConfigureClientAuthentication;
        var caFile = tls.CaFile;
        return tls with
        {
            Mode = mode,
            ConfigureClientAuthentication = async options =>
            {
                if (configured is not null)
                {
                    await configured(options).ConfigureAwait(false);
                }

                Watch(options, caFile);
            },
        };
    }

    private void Watch(SslClientAuthenticationOptions options, string? caFile)
    {
        // A new handshake: what an earlier one refused says nothing about this one.
        Volatile.Write(ref _rejection, null);
        var check = options.RemoteCertificateValidationCallback;
        var targetHost = options.TargetHost;
        options.RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
        {
            // Without a callback the platform accepts exactly a certificate it found no fault with.
            var accepted = check?.Invoke(sender, certificate, chain, errors) ?? errors == SslPolicyErrors.None;
            if (!accepted)
            {
                Volatile.Write(ref _rejection, NatsCertificateRejection.Describe(certificate, chain, errors, targetHost, caFile, _time.GetUtcNow()));
            }

            return accepted;
        };
    }
}
