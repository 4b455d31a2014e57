using System.Text;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Xunit.Abstractions;

namespace Prova.Core.Tests.Keys;

public sealed class KeyStoreTests(ITestOutputHelper output) : IDisposable
{
    private const string WikiPrivateKey = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";

    // The scrypt test vector of the Web3 Secret Storage Definition (Ethereum wiki).
    private const string WikiScryptJson = """
        {
          "crypto" : {
            "cipher" : "aes-128-ctr",
            "cipherparams" : { "iv" : "83dbcc02d8ccb40e466191a123791e0e" },
            "ciphertext" : "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
            "kdf" : "scrypt",
            "kdfparams" : {
              "dklen" : 32,
              "n" : 262144,
              "r" : 1,
              "p" : 8,
              "salt" : "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19"
            },
            "mac" : "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097"
          },
          "id" : "3198bc9c-6672-5ab3-d995-4942343ae5b6",
          "version" : 3
        }
        """;

    // The PBKDF2-SHA-256 test vector of the same document.
    private const string WikiPbkdf2Json = """
        {
          "crypto" : {
            "cipher" : "aes-128-ctr",
            "cipherparams" : { "iv" : "6087dab2f9fdbbfaddc31a909735c1e6" },
            "ciphertext" : "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
            "kdf" : "pbkdf2",
            "kdfparams" : {
              "c" : 262144,
              "dklen" : 32,
              "prf" : "hmac-sha256",
              "salt" : "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"
            },
            "mac" : "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"
          },
          "id" : "3198bc9c-6672-5ab3-d995-4942343ae5b6",
          "version" : 3
        }
        """;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "prova-keys-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void DecryptsTheWikiScryptVector()
    {
        var key = KeyStore.Decrypt(WikiScryptJson, "testpassword");
        Assert.Equal(WikiPrivateKey, Convert.ToHexStringLower(key.ExportSecret()));
        Assert.Equal("0x008aeeda4d805471df9b2a5b0f38a0c3bcba786b", key.Address.ToLowerHex());
    }

    [Fact]
    public void DecryptsTheWikiPbkdf2Vector()
    {
        var key = KeyStore.Decrypt(WikiPbkdf2Json, "testpassword");
        Assert.Equal(WikiPrivateKey, Convert.ToHexStringLower(key.ExportSecret()));
    }

    [Fact]
    public void EncryptReproducesTheWikiScryptVector()
    {
        var key = PrivateKey.FromHex(WikiPrivateKey);
        string json = KeyStore.Encrypt(key, "testpassword", new KeystoreOptions { ScryptN = 262144, ScryptR = 1, ScryptP = 8 },
            Convert.FromHexString("ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19"),
            Convert.FromHexString("83dbcc02d8ccb40e466191a123791e0e"),
            Guid.Parse("3198bc9c-6672-5ab3-d995-4942343ae5b6"));
        Assert.Contains("\"ciphertext\": \"d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c\"", json);
        Assert.Contains("\"mac\": \"2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097\"", json);
        Assert.Contains("\"address\": \"008aeeda4d805471df9b2a5b0f38a0c3bcba786b\"", json);
    }

    [Fact]
    public void DefaultParametersRoundTripAndAreTheStandardOnes()
    {
        var key = PrivateKey.Generate();
        string json = KeyStore.Encrypt(key, "pw");
        Assert.Contains("\"n\": 262144", json);
        Assert.Contains("\"r\": 8", json);
        Assert.Contains("\"p\": 1", json);
        Assert.Equal(key.Address, KeyStore.Decrypt(json, "pw").Address);
    }

    [Fact]
    public void RoundTripsRandomKeysAndPasswords()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        for (int i = 0; i < 8; i++)
        {
            var key = Crypto.Secp256k1Tests.RandomKey(random);
            var chars = new char[random.Next(0, 40)];
            for (int c = 0; c < chars.Length; c++)
            {
                chars[c] = (char)random.Next(0x20, 0x3000);
            }
            string password = new(chars);
            var back = KeyStore.Decrypt(KeyStore.Encrypt(key, password, KeystoreOptions.Light), password);
            Assert.Equal(key.ExportSecret(), back.ExportSecret());
        }
    }

    [Fact]
    public void WrongPasswordIsAMacMismatch()
    {
        string json = KeyStore.Encrypt(PrivateKey.Generate(), "right", KeystoreOptions.Light);
        var e = Assert.Throws<KeystoreException>(() => KeyStore.Decrypt(json, "wrong"));
        Assert.Equal("wrong password or corrupted keystore (MAC mismatch)", e.Message);
    }

    [Fact]
    public void KeystoreTextContainsNeitherTheSecretNorThePassword()
    {
        var key = PrivateKey.Generate();
        string secretHex = Convert.ToHexStringLower(key.ExportSecret());
        string json = KeyStore.Encrypt(key, "correct horse battery staple", KeystoreOptions.Light);
        Assert.DoesNotContain(secretHex, json);
        Assert.DoesNotContain(secretHex[..16], json);
        Assert.DoesNotContain("horse", json);
    }

    [Fact]
    public void TamperedAddressFieldIsReported()
    {
        var key = PrivateKey.Generate();
        string json = KeyStore.Encrypt(key, "pw", KeystoreOptions.Light);
        string other = PrivateKey.Generate().Address.ToLowerHex()[2..];
        var e = Assert.Throws<KeystoreException>(() => KeyStore.Decrypt(json.Replace(key.Address.ToLowerHex()[2..], other), "pw"));
        Assert.Contains("does not match", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("{\"version\": 3}")]
    [InlineData("{\"version\": 2, \"crypto\": {}}")]
    [InlineData("{\"version\": 3, \"crypto\": 5}")]
    public void MalformedJsonIsAKeystoreException(string json)
    {
        var e = Assert.Throws<KeystoreException>(() => KeyStore.Decrypt(json, "pw"));
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Theory]
    [InlineData("\"aes-128-ctr\"", "\"aes-128-cbc\"", "cipher")]
    [InlineData("\"kdf\": \"scrypt\"", "\"kdf\": \"argon2\"", "kdf")]
    [InlineData("\"n\": 4096", "\"n\": 4097", "power of two")]
    [InlineData("\"n\": 4096", "\"n\": 1073741824", "memory")]
    [InlineData("\"p\": 1", "\"p\": 1000", "cost")]
    [InlineData("\"dklen\": 32", "\"dklen\": 16", "dklen")]
    [InlineData("\"version\": 3", "\"version\": \"3\"", "version")]
    public void UnsupportedOrHostileParametersAreRefusedBeforeAnyWork(string from, string to, string expected)
    {
        string json = KeyStore.Encrypt(PrivateKey.Generate(), "pw", KeystoreOptions.Light);
        Assert.Contains(from, json);
        var e = Assert.Throws<KeystoreException>(() => KeyStore.Decrypt(json.Replace(from, to), "pw"));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void RandomlyMutatedFilesFailWithTheTypedErrorOnly()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var key = PrivateKey.Generate();
        byte[] good = Encoding.UTF8.GetBytes(KeyStore.Encrypt(key, "pw", KeystoreOptions.Light));
        for (int i = 0; i < 150; i++)
        {
            byte[] bad = (byte[])good.Clone();
            int edits = random.Next(1, 4);
            for (int e = 0; e < edits; e++)
            {
                bad[random.Next(bad.Length)] = (byte)random.Next(256);
            }
            try
            {
                // A mutation in the id or in whitespace may leave a valid file; then it must still be this key.
                Assert.Equal(key.Address, KeyStore.Decrypt(Encoding.UTF8.GetString(bad), "pw").Address);
            }
            catch (KeystoreException)
            {
            }
        }
    }

    [Fact]
    public void SaveWritesMode0600AndLoadRoundTrips()
    {
        string path = KeyStore.NodeKeyPath(_dir);
        var key = PrivateKey.Generate();
        KeyStore.Save(path, key, "pw", KeystoreOptions.Light);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
                File.GetUnixFileMode(Path.GetDirectoryName(path)!));
        }
        Assert.Equal(key.Address, KeyStore.Load(path, "pw").Address);
        Assert.Equal(key.Address, KeyStore.ReadAddress(path));
        Assert.Equal(["node.json"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
    }

    [Fact]
    public void SaveRefusesToOverwriteAKeyUnlessAsked()
    {
        string path = Path.Combine(_dir, "node.json");
        var first = PrivateKey.Generate();
        KeyStore.Save(path, first, "pw", KeystoreOptions.Light);
        var e = Assert.Throws<KeystoreException>(() => KeyStore.Save(path, PrivateKey.Generate(), "pw", KeystoreOptions.Light));
        Assert.Contains("already exists", e.Message);
        Assert.Equal(first.Address, KeyStore.Load(path, "pw").Address);

        var second = PrivateKey.Generate();
        KeyStore.Save(path, second, "pw", KeystoreOptions.Light, overwrite: true);
        Assert.Equal(second.Address, KeyStore.Load(path, "pw").Address);
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead)]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.GroupRead)]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherWrite)]
    public void LoadRefusesAKeyFileOthersCanAccess(UnixFileMode mode)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        string path = Path.Combine(_dir, "node.json");
        KeyStore.Save(path, PrivateKey.Generate(), "pw", KeystoreOptions.Light);
        File.SetUnixFileMode(path, mode);
        var e = Assert.Throws<KeystoreException>(() => KeyStore.Load(path, "pw"));
        Assert.Contains("accessible by group or others", e.Message);
        Assert.Contains("chmod 600", e.Message);
        Assert.Throws<KeystoreException>(() => KeyStore.ReadAddress(path));
    }

    [Fact]
    public void LoadOfAMissingFileSaysHowToCreateOne()
    {
        var e = Assert.Throws<KeystoreException>(() => KeyStore.Load(Path.Combine(_dir, "absent.json"), "pw"));
        Assert.Contains("prova key new", e.Message);
    }

    [Fact]
    public void PasswordComesFromTheEnvironmentThenThePromptElseAClearError()
    {
        string? saved = Environment.GetEnvironmentVariable(KeyPassword.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(KeyPassword.EnvironmentVariable, "from-env");
            Assert.Equal("from-env", KeyPassword.Resolve(() => "from-prompt"));
            Environment.SetEnvironmentVariable(KeyPassword.EnvironmentVariable, null);
            Assert.Equal("from-prompt", KeyPassword.Resolve(() => "from-prompt"));
            var e = Assert.Throws<KeystoreException>(() => KeyPassword.Resolve(null));
            Assert.Contains(KeyPassword.EnvironmentVariable, e.Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable(KeyPassword.EnvironmentVariable, saved);
        }
    }
}
