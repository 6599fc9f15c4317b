using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Federation.Amqp;

/// <summary>
/// Says why a broker refused the client certificate of <c>certfile</c>. The broker only sends a TLS alert, which OpenSSL
/// reports as <c>tlsv1 alert unknown ca</c> and the like: an operator reads that as a problem with the broker's own
/// certificate. The certificate's dates are checked here first, so an expired one is named as such. The text names the
/// certificate by subject, issuer and dates, never the path or the key.
/// </summary>
internal static class AmqpClientCertificateRefusal
{
    // The alerts a TLS server sends about the peer's certificate, as OpenSSL words them ("... alert <description>").
    private static readonly string[] CertificateAlerts =
    [
        "alert unknown ca", "alert bad certificate", "alert certificate expired", "alert certificate unknown",
        "alert unsupported certificate", "alert certificate revoked", "alert access denied",
    ];

    /// <summary>
    /// Why the server refused the certificate in <paramref name="certFile"/>, or null when <paramref name="failure"/> is no
    /// alert about it.
    /// </summary>
    public static string? Describe(string certFile, string failure, DateTimeOffset now) =>
        CertificateAlerts.Any(alert => failure.Contains(alert, StringComparison.OrdinalIgnoreCase))
            ? $"the server refused the client certificate in 'certfile': {Diagnose(certFile, now)}"
            : null;

    /// <summary>
    /// For a handshake the server ended without an alert (with TLS 1.3 a broker checks the client certificate after the
    /// client finished its part, and then resets the connection): what may be wrong with the certificate.
    /// </summary>
    public static string DescribeReset(string certFile, DateTimeOffset now) =>
        $"a broker that refuses the client certificate in 'certfile' closes the connection like this: {Diagnose(certFile, now)}";

    private static string Diagnose(string certFile, DateTimeOffset now)
    {
        try
        {
            // The first certificate of the file is the client's (the key, or intermediates, may follow it).
            using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(certFile));
            if (now > certificate.NotAfter.ToUniversalTime())
            {
                return $"expired: '{certificate.Subject}' was valid until {Format(certificate.NotAfter)}";
            }

            if (now < certificate.NotBefore.ToUniversalTime())
            {
                return $"not yet valid: '{certificate.Subject}' is valid from {Format(certificate.NotBefore)} (is this machine's clock right?)";
            }

            return $"'{certificate.Subject}' (issued by '{certificate.Issuer}') is not signed by a CA the server trusts, or is not meant for client authentication";
        }
        catch (Exception error) when (error is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            return "it is not signed by a CA the server trusts, or is not meant for client authentication";
        }
    }

    private static string Format(DateTime time) => time.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
