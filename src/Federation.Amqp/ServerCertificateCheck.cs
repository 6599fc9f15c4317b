using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Federation.Amqp;

/// <summary>
/// Checks the server's certificate for one connect attempt as the URI's <c>verify</c> and <c>cacertfile</c> ask, and
/// remembers why it refused one: the TLS stack only reports "rejected by the callback", which tells an operator nothing.
/// </summary>
internal sealed class ServerCertificateCheck
{
    private readonly string serverName;
    private readonly bool verifyPeer;
    private readonly X509Certificate2Collection? trustedCas;

    /// <summary>A check for <paramref name="serverName"/>; <paramref name="trustedCas"/> null trusts the system store.</summary>
    public ServerCertificateCheck(string serverName, bool verifyPeer, X509Certificate2Collection? trustedCas)
    {
        this.serverName = serverName;
        this.verifyPeer = verifyPeer;
        this.trustedCas = trustedCas;
    }

    /// <summary>Why the last certificate was refused, or null.</summary>
    public string? Failure { get; private set; }

    /// <summary>The check of <paramref name="callback"/>, when it is one (the client library keeps only the delegate).</summary>
    public static ServerCertificateCheck? Of(RemoteCertificateValidationCallback? callback) => callback?.Target as ServerCertificateCheck;

    /// <summary>A <see cref="RemoteCertificateValidationCallback"/>.</summary>
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (!verifyPeer)
        {
            return true; // verify=verify_none: encrypted, but the server is not authenticated (as the Erlang client).
        }

        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return Refuse("the server presented no certificate");
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return Refuse($"the server certificate '{certificate.Subject}' is not valid for the name '{serverName}' (set server_name_indication to the name it carries)");
        }

        if (trustedCas is null)
        {
            return errors == SslPolicyErrors.None
                || Refuse(OutOfDate(chain) is { } outOfDate
                    ? $"{outOfDate} ({Describe(chain)})"
                    : $"the server certificate '{certificate.Subject}' is not trusted by the system's CA store ({Describe(chain)}; set cacertfile to the CA that signed it)");
        }

        // Trust exactly the CAs of cacertfile, not the system store: the Erlang client's meaning of cacertfile.
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(trustedCas);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            foreach (var element in chain.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate); // intermediates the server sent
            }
        }

        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        try
        {
            return custom.Build(leaf)
                || Refuse(OutOfDate(custom) is { } outOfDate
                    ? $"{outOfDate} ({Describe(custom)})"
                    : $"the server certificate '{certificate.Subject}' is not signed by a CA in cacertfile ({Describe(custom)})");
        }
        finally
        {
            if (!ReferenceEquals(leaf, certificate))
            {
                leaf.Dispose();
            }
        }
    }

    private bool Refuse(string reason)
    {
        Failure = reason;
        return false;
    }

    // An expired (or not yet valid) certificate in an otherwise good chain fails the build with NotTimeValid, which the
    // message above would call "not signed by a CA in cacertfile": the operator would then look at the CA file, not at
    // the dates. Name the first certificate of the chain (the server's own, or a CA's) whose dates exclude now.
    private static string? OutOfDate(X509Chain? chain)
    {
        if (chain is null)
        {
            return null;
        }

        var now = DateTime.Now;
        for (var i = 0; i < chain.ChainElements.Count; i++)
        {
            var certificate = chain.ChainElements[i].Certificate;
            var which = i == 0 ? "the server certificate" : "the CA certificate";
            if (now > certificate.NotAfter)
            {
                return $"expired: {which} '{certificate.Subject}' was valid until {Format(certificate.NotAfter)}";
            }

            if (now < certificate.NotBefore)
            {
                return $"not yet valid: {which} '{certificate.Subject}' is valid from {Format(certificate.NotBefore)} (is this machine's clock right?)";
            }
        }

        return null;
    }

    private static string Format(DateTime time) =>
        time.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    private static string Describe(X509Chain? chain)
    {
        var statuses = chain?.ChainStatus.Select(status => status.Status.ToString()).Distinct().ToArray() ?? [];
        return statuses.Length == 0 ? "no valid chain" : string.Join(", ", statuses);
    }
}
