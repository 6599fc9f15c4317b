using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using NATS.NKeys;

namespace Federation.Nats.Transport;

/// <summary>
/// Reads the files a NATS URI names for TLS (<c>cacertfile</c>, <c>certfile</c>, <c>keyfile</c>) and for logging in
/// (<c>nkey-seed-file</c>, <c>creds-file</c>). Problems describe the file, never its content: a key, a seed or a JWT is a secret.
/// </summary>
internal static class NatsSecurityFiles
{
    /// <summary>The line before the user JWT in a creds file (as <c>nsc</c> writes it).</summary>
    public const string JwtHeader = "-----BEGIN NATS USER JWT-----";

    /// <summary>The line before the user's nkey seed in a creds file.</summary>
    public const string SeedHeader = "-----BEGIN USER NKEY SEED-----";

    // A user seed is 58 base32 characters that start with "SU" (seed prefix + user prefix).
    private const string UserSeedPrefix = "SU";

    /// <summary>What is wrong with <paramref name="path"/> as a <c>cacertfile</c>, or null.</summary>
    public static string? CaCertificateProblem(string path) => Problem(() =>
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(path);
        }
        catch (CryptographicException error)
        {
            throw new InvalidDataException($"it is not a PEM file of certificates ({error.GetType().Name})", error);
        }

        foreach (var certificate in certificates)
        {
            certificate.Dispose();
        }

        if (certificates.Count == 0)
        {
            throw new InvalidDataException("it holds no PEM certificate");
        }
    });

    /// <summary>
    /// What is wrong with <paramref name="certFile"/> and <paramref name="keyFile"/> as a client certificate, or null.
    /// With no <paramref name="keyFile"/> the private key must sit in <paramref name="certFile"/>.
    /// </summary>
    public static string? ClientCertificateProblem(string certFile, string? keyFile) => Problem(() =>
    {
        try
        {
            using var certificate = X509Certificate2.CreateFromPemFile(certFile, keyFile);
        }
        catch (CryptographicException error)
        {
            // The platform's text is about the format; it never quotes the key.
            throw new InvalidDataException($"no PEM certificate with its matching private key could be read ({error.Message.TrimEnd('.')})", error);
        }
    });

    /// <summary>Why <paramref name="path"/> cannot be opened for reading (missing, permission denied), or null.</summary>
    public static string? ReadableProblem(string path) => Problem(() =>
    {
        using var stream = File.OpenRead(path);
    });

    /// <summary>What is wrong with <paramref name="path"/> as an <c>nkey-seed-file</c>, or null.</summary>
    public static string? NKeySeedProblem(string path) => Problem(() => _ = ReadNKeySeed(path));

    /// <summary>What is wrong with <paramref name="path"/> as a <c>creds-file</c>, or null.</summary>
    public static string? CredsProblem(string path) => Problem(() => CheckCreds(path));

    /// <summary>
    /// The user nkey seed in <paramref name="path"/>: its first line that starts with <c>SU</c>, so that both a bare seed
    /// (<c>nk -gen user</c>) and a seed followed by its public key (<c>nk -gen user -pubout</c>) are read.
    /// </summary>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="InvalidDataException">The file holds no valid user seed.</exception>
    public static string ReadNKeySeed(string path)
    {
        var seed = File.ReadLines(path).Select(line => line.Trim()).FirstOrDefault(line => line.StartsWith(UserSeedPrefix, StringComparison.Ordinal))
            ?? throw new InvalidDataException($"it holds no user nkey seed (a line starting with '{UserSeedPrefix}')");
        CheckSeed(seed, "its user nkey seed");
        return seed;
    }

    /// <summary>The public key (<c>U...</c>) of <paramref name="seed"/>.</summary>
    public static string PublicKeyOf(string seed)
    {
        using var pair = KeyPair.FromSeed(seed.AsSpan());
        return pair.GetPublicKey();
    }

    /// <summary>What went wrong reading a file, without its content.</summary>
    public static string Describe(Exception error) => error switch
    {
        FileNotFoundException or DirectoryNotFoundException => "the file does not exist",
        UnauthorizedAccessException => "the file cannot be read (permission denied, or it is a directory)",
        InvalidDataException => error.Message,
        _ => $"the file cannot be read ({error.GetType().Name})",
    };

    /// <summary>Whether <paramref name="error"/> is one of the failures <see cref="Describe"/> knows.</summary>
    public static bool IsFileProblem(Exception error) => error is IOException or UnauthorizedAccessException or InvalidDataException;

    /// <summary>Checks the creds file as the client reads it: the line after each header is the JWT and the seed.</summary>
    private static void CheckCreds(string path)
    {
        string? jwt = null;
        string? seed = null;
        using (var reader = new StreamReader(path))
        {
            while (reader.ReadLine()?.Trim() is { } line)
            {
                if (line.StartsWith(JwtHeader, StringComparison.Ordinal))
                {
                    jwt = reader.ReadLine()?.Trim();
                }
                else if (line.StartsWith(SeedHeader, StringComparison.Ordinal))
                {
                    seed = reader.ReadLine()?.Trim();
                }
            }
        }

        if (string.IsNullOrEmpty(jwt) || jwt.Split('.').Length != 3)
        {
            throw new InvalidDataException($"it holds no user JWT (a line '{JwtHeader}' followed by the JWT)");
        }

        if (string.IsNullOrEmpty(seed))
        {
            throw new InvalidDataException($"it holds no user nkey seed (a line '{SeedHeader}' followed by the seed)");
        }

        CheckSeed(seed, "its user nkey seed");
    }

    private static void CheckSeed(string seed, string what)
    {
        if (!seed.StartsWith(UserSeedPrefix, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{what} is not a user seed (it must start with '{UserSeedPrefix}')");
        }

        try
        {
            using var pair = KeyPair.FromSeed(seed.AsSpan());
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            // The library's message might quote the seed: only the exception type is kept.
            throw new InvalidDataException($"{what} is not a valid nkey seed ({error.GetType().Name})");
        }
    }

    private static string? Problem(Action check)
    {
        try
        {
            check();
            return null;
        }
        catch (Exception error) when (IsFileProblem(error))
        {
            return Describe(error);
        }
    }
}
