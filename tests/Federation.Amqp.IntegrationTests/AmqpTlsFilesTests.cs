namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// A TLS file that vanishes after the URI was checked is read again by every connect (the AMQP connection, the management
/// API's handler, the removal of unreadable messages): the failure must never quote the path, which displayed URIs mask.
/// </summary>
public sealed class AmqpTlsFilesTests
{
    private static readonly string Missing = Path.Combine(Path.GetTempPath(), "federation-secret-dir-" + Guid.NewGuid().ToString("N"), "client-key.pem");

    [Fact]
    public void A_missing_ca_file_fails_without_its_path()
    {
        var error = Assert.Throws<InvalidDataException>(() => AmqpTlsFiles.LoadCaCertificates(Missing));

        Assert.Equal("the file does not exist", error.Message);
        Assert.DoesNotContain("federation-secret-dir", error.ToString(), StringComparison.Ordinal);
        Assert.True(AmqpTlsFiles.IsFileProblem(error));
    }

    [Fact]
    public void A_missing_client_certificate_or_key_fails_without_its_path()
    {
        var error = Assert.Throws<InvalidDataException>(() => AmqpTlsFiles.LoadClientCertificate(Missing, Missing));

        Assert.Equal("the file does not exist", error.Message);
        Assert.DoesNotContain("federation-secret-dir", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_directory_given_as_a_file_fails_without_its_path()
    {
        var directory = Directory.CreateTempSubdirectory("federation-secret-dir-");
        try
        {
            var error = Assert.Throws<InvalidDataException>(() => AmqpTlsFiles.LoadCaCertificates(directory.FullName));

            Assert.DoesNotContain("federation-secret-dir", error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete();
        }
    }
}
