namespace Federation.Nats.Tests.Security;

/// <summary>Asserts that no secret of a <see cref="NatsSecurityLab"/> appears in a text.</summary>
internal static class SecretAssert
{
    /// <summary>Fails naming where (<paramref name="where"/>) a secret was found, without printing the secret's value.</summary>
    public static void NoneIn(NatsSecurityLab lab, string? text, string where)
    {
        if (text is null)
        {
            return;
        }

        for (var i = 0; i < lab.Secrets.Count; i++)
        {
            Assert.False(text.Contains(lab.Secrets[i], StringComparison.Ordinal), $"secret #{i} appears in {where}");
        }
    }
}
