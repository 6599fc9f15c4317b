using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Federation.Nats.Transport;

/// <summary>
/// Says why a server certificate was refused in the handshake: an untrusted or unknown CA, a certificate that expired or
/// is not valid yet, or a host name it is not valid for. The platform's handshake exception only says "rejected by the
/// provided RemoteCertificateValidationCallback" whatever the cause, and the operator's fix differs for each (a
/// <c>cacertfile</c>, a renewed certificate, another host name in the URI). No text here holds a secret: it names
/// certificates by subject and issuer, dates and host names.
/// </summary>
internal static class NatsCertificateRejection
{
    /// <summary>
    /// The causes of a refusal, joined by <c>"; "</c>, each starting with its kind (<c>unknown CA</c>, <c>untrusted CA</c>,
    /// <c>expired</c>, <c>not yet valid</c>, <c>host name mismatch</c>). Never throws: a cause it cannot work out is
    /// described from <paramref name="errors"/> alone.
    /// </summary>
    /// <param name="certificate">The server's certificate, or null when it sent none.</param>
    /// <param name="chain">The chain the platform built (only its certificates are used: the client's CA callback rebuilds it).</param>
    /// <param name="errors">What the platform found before any callback ran.</param>
    /// <param name="targetHost">The host name the client connected as, which the certificate must name.</param>
    /// <param name="caFile">The PEM file of the CAs to trust instead of the system store, or null.</param>
    /// <param name="now">The time the certificate is judged at.</param>
    public static string Describe(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, string? targetHost, string? caFile, DateTimeOffset now)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return "the server sent no certificate";
        }

        try
        {
            using var owned = certificate is X509Certificate2 ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            var leaf = owned ?? (X509Certificate2)certificate;
            var causes = new List<string>();
            if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors) || caFile is not null)
            {
                ChainCauses(leaf, chain, caFile, now, causes);
            }

            if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
            {
                causes.Add($"host name mismatch: the certificate '{leaf.Subject}' is not valid for '{targetHost}', the host this URI connects to ({NamesOf(leaf)}); connect by a name the certificate holds, or have it reissued for '{targetHost}'");
            }

            return causes.Count > 0 ? string.Join("; ", causes) : Fallback(errors);
        }
        catch (Exception error) when (error is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException or InvalidCastException)
        {
            return Fallback(errors);
        }
    }

    /// <summary>
    /// Judges the chain anew, trusting exactly what the client trusts (the <c>cacertfile</c> CAs, or the system store):
    /// the chain passed to a validation callback has already been rebuilt by the client's own CA callback, so its
    /// status no longer says which check failed.
    /// </summary>
    private static void ChainCauses(X509Certificate2 leaf, X509Chain? received, string? caFile, DateTimeOffset now, List<string> causes)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        if (received is not null)
        {
            // The intermediates the server sent.
            foreach (var element in received.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        var trusted = new X509Certificate2Collection();
        try
        {
            if (caFile is not null)
            {
                trusted.ImportFromPemFile(caFile);
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
            }

            chain.Build(leaf);
            var statuses = chain.ChainElements.Cast<X509ChainElement>().ToList();
            for (var i = 0; i < statuses.Count; i++)
            {
                if (statuses[i].ChainElementStatus.Any(s => s.Status.HasFlag(X509ChainStatusFlags.NotTimeValid)))
                {
                    causes.Add(Validity(statuses[i].Certificate, i == 0 ? "the certificate" : "the CA certificate", i == 0 ? string.Empty : " in its chain", now));
                }
            }

            var untrusted = chain.ChainStatus.Any(s => (s.Status & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0);
            if (untrusted)
            {
                var top = statuses.Count > 0 ? statuses[^1].Certificate : leaf;
                causes.Add(caFile is not null
                    ? $"untrusted CA: the certificate '{leaf.Subject}' (issued by '{top.Issuer}') is not signed by a CA in '{NatsSecuritySettings.CaCertFileKey}'"
                    : $"unknown CA: the certificate '{leaf.Subject}' (issued by '{top.Issuer}') is not signed by a CA in this machine's trust store; set '{NatsSecuritySettings.CaCertFileKey}' to the CA that signed it (or '{NatsSecuritySettings.VerifyKey}={NatsSecuritySettings.VerifyNone}' to skip the check)");
            }

            var other = chain.ChainStatus
                .Select(s => s.Status & ~(X509ChainStatusFlags.NotTimeValid | X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain))
                .Where(s => s != X509ChainStatusFlags.NoError)
                .Distinct()
                .ToList();
            if (other.Count > 0)
            {
                causes.Add($"its chain is not valid ({string.Join(", ", other)})");
            }
        }
        finally
        {
            foreach (var certificate in trusted)
            {
                certificate.Dispose();
            }
        }
    }

    private static string Validity(X509Certificate2 certificate, string what, string where, DateTimeOffset now)
    {
        var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero);
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        return now < notBefore
            ? $"not yet valid: {what} '{certificate.Subject}'{where} is valid from {Format(notBefore)} (is this machine's clock right?)"
            : $"expired: {what} '{certificate.Subject}'{where} was valid until {Format(notAfter)}";
    }

    private static string NamesOf(X509Certificate2 certificate)
    {
        var names = new List<string>();
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension alternativeNames)
            {
                names.AddRange(alternativeNames.EnumerateDnsNames().Select(n => "DNS:" + n));
                names.AddRange(alternativeNames.EnumerateIPAddresses().Select(a => "IP:" + a));
            }
        }

        return names.Count > 0 ? "it names " + string.Join(", ", names) : "it names no host (no subject alternative names)";
    }

    private static string Fallback(SslPolicyErrors errors) => $"the platform's check failed ({errors})";

    private static string Format(DateTimeOffset time) => time.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
