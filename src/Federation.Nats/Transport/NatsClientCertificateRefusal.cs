using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Federation.Nats.Transport;

/// <summary>
/// Says why a server with <c>verify: true</c> refused the client certificate of <c>certfile</c>. The server only sends a
/// TLS alert (nats-server, like most Go servers, sends "bad certificate" for most causes), so the certificate's own
/// dates are checked here first: an expired client certificate is then named as such rather than as an untrusted one.
/// The text names the certificate by subject and dates, never the key.
/// </summary>
internal static class NatsClientCertificateRefusal
{
    /// <summary>Why the certificate in <paramref name="certFile"/> was refused, given the server's <paramref name="alert"/>.</summary>
    public static string Describe(string certFile, string alert, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(certFile);
        ArgumentNullException.ThrowIfNull(alert);
        var key = NatsSecuritySettings.CertFileKey;
        try
        {
            // The first certificate of the file is the client's (the key, or intermediates, may follow it).
            using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(certFile));
            var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero);
            var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);
            if (now > notAfter || alert.Contains("expired", StringComparison.OrdinalIgnoreCase))
            {
                return $"expired: the certificate '{certificate.Subject}' in '{key}' was valid until {Format(notAfter)}";
            }

            if (now < notBefore)
            {
                return $"not yet valid: the certificate '{certificate.Subject}' in '{key}' is valid from {Format(notBefore)} (is this machine's clock right?)";
            }

            return alert.Contains("unknown ca", StringComparison.OrdinalIgnoreCase)
                ? $"untrusted CA: the certificate '{certificate.Subject}' in '{key}' (issued by '{certificate.Issuer}') is not signed by a CA the server trusts"
                : $"the certificate '{certificate.Subject}' in '{key}' (issued by '{certificate.Issuer}') is not signed by a CA the server trusts, or is not meant for client authentication";
        }
        catch (Exception error) when (error is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            return $"the client certificate in '{key}' is not signed by a CA the server trusts, or is not meant for client authentication";
        }
    }

    private static string Format(DateTimeOffset time) => time.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
