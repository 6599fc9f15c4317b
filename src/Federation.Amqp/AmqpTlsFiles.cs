using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Federation.Amqp;

/// <summary>
/// Reads the PEM files an <c>amqps://</c> URI names (<c>cacertfile</c>, <c>certfile</c>, <c>keyfile</c>), as the Erlang
/// client reads them. Problems describe the file, never its content (a key file is a secret).
/// </summary>
internal static class AmqpTlsFiles
{
    /// <summary>The CA certificates in <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file cannot be read, or holds no PEM certificate (the message never names the path).</exception>
    public static X509Certificate2Collection LoadCaCertificates(string path)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(path);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw WithoutPath(error);
        }
        catch (CryptographicException error)
        {
            throw new InvalidDataException($"it is not a PEM file of certificates ({error.GetType().Name})", error);
        }

        return certificates.Count > 0 ? certificates : throw new InvalidDataException("it holds no PEM certificate");
    }

    /// <summary>The client certificate in <paramref name="certFile"/> with its private key from <paramref name="keyFile"/>, or from the certificate file when it is null.</summary>
    /// <exception cref="InvalidDataException">A file cannot be read, or the files hold no certificate or no matching key (the message never names a path).</exception>
    public static X509Certificate2 LoadClientCertificate(string certFile, string? keyFile)
    {
        try
        {
            return X509Certificate2.CreateFromPemFile(certFile, keyFile);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw WithoutPath(error);
        }
        catch (CryptographicException error)
        {
            // The exception text is the platform's, about the format; it never quotes the key.
            throw new InvalidDataException($"no PEM certificate with its matching private key could be read ({error.Message.TrimEnd('.')})", error);
        }
    }

    /// <summary>What is wrong with <paramref name="path"/> as a <c>cacertfile</c>, or null.</summary>
    public static string? CaCertificateProblem(string path) => Problem(() => LoadCaCertificates(path).Count);

    /// <summary>What is wrong with <paramref name="certFile"/> and <paramref name="keyFile"/> as a client certificate, or null.</summary>
    public static string? ClientCertificateProblem(string certFile, string? keyFile) => Problem(() =>
    {
        using var certificate = LoadClientCertificate(certFile, keyFile);
        return 0;
    });

    /// <summary>Why <paramref name="path"/> cannot be opened for reading (missing, permission denied), or null.</summary>
    public static string? ReadableProblem(string path) => Problem(() =>
    {
        using var stream = File.OpenRead(path);
        return 0;
    });

    /// <summary>What went wrong reading a TLS file, without its path or content.</summary>
    public static string Describe(Exception error) => error switch
    {
        FileNotFoundException or DirectoryNotFoundException => "the file does not exist",
        UnauthorizedAccessException => "the file cannot be read (permission denied, or it is a directory)",
        InvalidDataException => error.Message,
        _ => $"the file cannot be read ({error.GetType().Name})",
    };

    /// <summary>
    /// A file that cannot be read, described without its path: the platform's exception quotes the path, which the redacted
    /// URI masks, and loggers print an exception in full wherever it ends up (the management API's handler and the removal of
    /// unreadable messages read these files again at their own connects, after the URI was checked).
    /// </summary>
    private static InvalidDataException WithoutPath(Exception error) => new(Describe(error));

    /// <summary>Whether <paramref name="error"/> is one of the failures <see cref="Describe"/> knows.</summary>
    public static bool IsFileProblem(Exception error) => error is IOException or UnauthorizedAccessException or InvalidDataException;

    private static string? Problem(Func<int> load)
    {
        try
        {
            _ = load();
            return null;
        }
        catch (Exception error) when (IsFileProblem(error))
        {
            return Describe(error);
        }
    }
}
