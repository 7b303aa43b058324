using CollabAkka.Web.Auth;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace CollabAkka.Gateway.Tests;

/// <summary><c>Auth:DevSigningKeyFile</c>: the nodes of a dev cluster share one key, however they start.</summary>
public sealed class DevSigningKeyTests
{
    [Fact]
    public async Task IssuersStartingAtOnceOnOneKeyFileAgreeOnOneKeyReadableByItsOwnerOnly()
    {
        var dir = Directory.CreateTempSubdirectory("collab-devkey-").FullName;
        try
        {
            var options = new CollabAuthOptions { DevSigningKeyFile = Path.Combine(dir, "keys", "shared.pem") };
            using var gate = new ManualResetEventSlim();
            var starting = Enumerable.Range(0, 8)
                .Select(i => Task.Run(() =>
                {
                    gate.Wait();
                    return new DevTokenIssuer(Path.Combine(dir, $"node{i}"), options, TimeProvider.System);
                }))
                .ToList();
            gate.Set();
            var issuers = await Task.WhenAll(starting);

            // A token minted by any of them verifies with every other's key.
            var token = issuers[0].Issue("u1", "Dr. One", "doctor").Token;
            foreach (var issuer in issuers)
            {
                var result = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
                {
                    IssuerSigningKey = issuer.Key, ValidateIssuer = false, ValidateAudience = false,
                });
                Assert.True(result.IsValid, result.Exception?.Message);
            }
            Assert.Equal(["shared.pem"], Directory.GetFiles(Path.Combine(dir, "keys")).Select(Path.GetFileName)); // no leftovers aside
            Assert.False(File.Exists(Path.Combine(dir, "node0", DevTokenIssuer.KeyFileName))); // not in the data directory
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(options.DevSigningKeyFile));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void WithoutTheSettingEachDataDirectoryKeepsItsOwnKeyAcrossRestarts()
    {
        var dir = Directory.CreateTempSubdirectory("collab-devkey-").FullName;
        try
        {
            var first = new DevTokenIssuer(dir, new CollabAuthOptions(), TimeProvider.System);
            var again = new DevTokenIssuer(dir, new CollabAuthOptions(), TimeProvider.System);
            Assert.True(File.Exists(Path.Combine(dir, DevTokenIssuer.KeyFileName)));
            Assert.Equal(first.Key.Rsa.ExportParameters(false).Modulus, again.Key.Rsa.ExportParameters(false).Modulus);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
