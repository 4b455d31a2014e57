using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Modes;
using Org.BouncyCastle.Crypto.Parameters;
using Prova.Core.Crypto;
using Prova.Core.IO;

namespace Prova.Core.Keys;

/// <summary>
/// Web3 Secret Storage Definition, version 3 (the geth/ethers/web3.js keystore format):
///   derivedKey = scrypt(password, salt, n, r, p, 32)   (pbkdf2-hmac-sha256 is accepted when reading)
///   ciphertext = AES-128-CTR(key = derivedKey[0..16], iv, privateKey)
///   mac        = keccak256(derivedKey[16..32] ‖ ciphertext)
/// Files are written atomically with mode 0600 and refused when group or others can access them.
/// </summary>
public static class KeyStore
{
    /// <summary>A keystore file is about 500 bytes; anything much larger is not one.</summary>
    private const int MaxFileBytes = 64 * 1024;

    private const int DerivedKeyLength = 32;

    private const string MacMismatch = "wrong password or corrupted keystore (MAC mismatch)";

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Where a node keeps its identity key: &lt;data-dir&gt;/keys/node.json (docs/keys.md).</summary>
    public static string NodeKeyPath(string dataDirectory) => Path.Combine(dataDirectory, "keys", "node.json");

    /// <summary>Encrypts <paramref name="key"/> into keystore JSON with fresh random salt, iv and id.</summary>
    public static string Encrypt(PrivateKey key, string password, KeystoreOptions? options = null) =>
        Encrypt(key, password, options ?? KeystoreOptions.Default,
            RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(16), Guid.NewGuid());

    internal static string Encrypt(PrivateKey key, string password, KeystoreOptions options, byte[] salt, byte[] iv, Guid id)
    {
        ArgumentNullException.ThrowIfNull(password);
        options.Validate();
        byte[] derived = Scrypt.DeriveKey(Encoding.UTF8.GetBytes(password), salt, options.ScryptN, options.ScryptR, options.ScryptP, DerivedKeyLength);
        byte[] secret = key.ExportSecret();
        try
        {
            byte[] ciphertext = AesCtr(derived, iv, secret);
            byte[] mac = Mac(derived, ciphertext);
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteString("address", key.Address.ToLowerHex()[2..]);
                json.WriteStartObject("crypto");
                json.WriteString("cipher", "aes-128-ctr");
                json.WriteString("ciphertext", Convert.ToHexStringLower(ciphertext));
                json.WriteStartObject("cipherparams");
                json.WriteString("iv", Convert.ToHexStringLower(iv));
                json.WriteEndObject();
                json.WriteString("kdf", "scrypt");
                json.WriteStartObject("kdfparams");
                json.WriteNumber("dklen", DerivedKeyLength);
                json.WriteNumber("n", options.ScryptN);
                json.WriteNumber("p", options.ScryptP);
                json.WriteNumber("r", options.ScryptR);
                json.WriteString("salt", Convert.ToHexStringLower(salt));
                json.WriteEndObject();
                json.WriteString("mac", Convert.ToHexStringLower(mac));
                json.WriteEndObject();
                json.WriteString("id", id.ToString("D"));
                json.WriteNumber("version", 3);
                json.WriteEndObject();
            }
            return Encoding.UTF8.GetString(buffer.ToArray());
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
            CryptographicOperations.ZeroMemory(derived);
        }
    }

    /// <exception cref="KeystoreException">wrong password, or the JSON is not a usable v3 keystore.</exception>
    public static PrivateKey Decrypt(string json, string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        var parsed = Parse(json);
        byte[] passwordBytes = Encoding.UTF8.GetBytes(password);
        byte[] derived = parsed.Kdf == "scrypt"
            ? Scrypt.DeriveKey(passwordBytes, parsed.Salt, parsed.N, parsed.R, parsed.P, DerivedKeyLength)
            : Rfc2898DeriveBytes.Pbkdf2(passwordBytes, parsed.Salt, parsed.Iterations, HashAlgorithmName.SHA256, DerivedKeyLength);
        byte[]? secret = null;
        try
        {
            if (!CryptographicOperations.FixedTimeEquals(Mac(derived, parsed.Ciphertext), parsed.Mac))
            {
                throw new KeystoreException(MacMismatch);
            }
            secret = AesCtr(derived, parsed.Iv, parsed.Ciphertext);
            PrivateKey key;
            try
            {
                key = PrivateKey.FromBytes(secret);
            }
            catch (CryptoFormatException)
            {
                throw new KeystoreException("keystore decrypts to an invalid secp256k1 private key (corrupted file)");
            }
            if (parsed.Address is { } address && address != key.Address)
            {
                throw new KeystoreException($"keystore address {address} does not match the address of its key, {key.Address} (corrupted or tampered file)");
            }
            return key;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(derived);
            if (secret is not null)
            {
                CryptographicOperations.ZeroMemory(secret);
            }
        }
    }

    /// <summary>
    /// Writes <paramref name="key"/> to <paramref name="path"/> atomically: a temporary file in the same
    /// directory created with mode 0600 (never wider, not even for a moment), fsync, rename, then fsync
    /// of the directory. A missing directory is created with mode 0700.
    /// </summary>
    /// <exception cref="KeystoreException">the file exists and <paramref name="overwrite"/> is false, or it cannot be written.</exception>
    public static void Save(string path, PrivateKey key, string password, KeystoreOptions? options = null, bool overwrite = false)
    {
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath)!;
        if (!overwrite && File.Exists(fullPath))
        {
            throw new KeystoreException($"key file {fullPath} already exists; refusing to overwrite a key");
        }
        byte[] contents = Encoding.UTF8.GetBytes(Encrypt(key, password, options));
        string temp = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.tmp");
        try
        {
            if (!Directory.Exists(directory))
            {
                if (OperatingSystem.IsWindows())
                {
                    Directory.CreateDirectory(directory);
                }
                else
                {
                    Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }
            }
            var streamOptions = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
            };
            if (!OperatingSystem.IsWindows())
            {
                streamOptions.UnixCreateMode = OwnerOnly;
            }
            using (var stream = new FileStream(temp, streamOptions))
            {
                stream.Write(contents);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, fullPath, overwrite);
        }
        catch (IOException e)
        {
            TryDelete(temp);
            throw new KeystoreException($"cannot write key file {fullPath}: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            TryDelete(temp);
            throw new KeystoreException($"cannot write key file {fullPath}: {e.Message}", e);
        }
        UnixFile.FsyncDirectory(directory);
    }

    /// <summary>Reads and decrypts a key file; refuses files that group or others can access.</summary>
    /// <exception cref="KeystoreException">missing or unsafe file, wrong password, malformed keystore.</exception>
    public static PrivateKey Load(string path, string password) => Decrypt(ReadChecked(path), password);

    /// <summary>The address recorded in a key file (no password needed; for `prova key show`).</summary>
    public static Address ReadAddress(string path)
    {
        var parsed = Parse(ReadChecked(path));
        return parsed.Address
            ?? throw new KeystoreException($"key file {Path.GetFullPath(path)} records no address; decrypt it to learn the address");
    }

    private static string ReadChecked(string path)
    {
        string fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            throw new KeystoreException($"no key file at {fullPath}; create one with `prova key new`");
        }
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(fullPath);
            if ((mode & GroupOrOthers) != 0)
            {
                string octal = Convert.ToString((int)mode, 8).PadLeft(4, '0');
                throw new KeystoreException(
                    $"key file {fullPath} is accessible by group or others (mode {octal}); restrict it with: chmod 600 {fullPath}");
            }
        }
        try
        {
            using var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length > MaxFileBytes)
            {
                throw new KeystoreException($"key file {fullPath} is {stream.Length} bytes; a keystore is well under {MaxFileBytes} bytes");
            }
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return reader.ReadToEnd();
        }
        catch (IOException e)
        {
            throw new KeystoreException($"cannot read key file {fullPath}: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new KeystoreException($"cannot read key file {fullPath}: {e.Message}", e);
        }
    }

    private static byte[] Mac(byte[] derived, byte[] ciphertext) =>
        Keccak256.HashConcat(derived[16..32], ciphertext).ToArray();

    private static byte[] AesCtr(byte[] derived, byte[] iv, byte[] input)
    {
        // CTR is its own inverse: the same call encrypts and decrypts.
        var cipher = new BufferedBlockCipher(new SicBlockCipher(new AesEngine()));
        cipher.Init(true, new ParametersWithIV(new KeyParameter(derived, 0, 16), iv));
        return cipher.DoFinal(input);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private sealed class Parsed
    {
        public required byte[] Iv { get; init; }
        public required byte[] Ciphertext { get; init; }
        public required byte[] Mac { get; init; }
        public required byte[] Salt { get; init; }
        public required string Kdf { get; init; }
        public int N { get; init; }
        public int R { get; init; }
        public int P { get; init; }
        public int Iterations { get; init; }
        public Address? Address { get; init; }
    }

    private static Parsed Parse(string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new KeystoreException($"keystore is not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Malformed("the top level must be a JSON object");
            }
            if (!root.TryGetProperty("version", out var version) || version.ValueKind != JsonValueKind.Number
                || !version.TryGetInt32(out int v) || v != 3)
            {
                throw Malformed("only version 3 (Web3 Secret Storage v3) keystores are supported");
            }
            // geth wrote "Crypto" in early versions; everything since writes "crypto".
            if (!root.TryGetProperty("crypto", out var crypto) && !root.TryGetProperty("Crypto", out crypto))
            {
                throw Malformed("missing \"crypto\"");
            }
            if (crypto.ValueKind != JsonValueKind.Object)
            {
                throw Malformed("\"crypto\" must be an object");
            }
            string cipher = String(crypto, "cipher");
            if (cipher != "aes-128-ctr")
            {
                throw Malformed($"unsupported cipher '{Hash256.Shorten(cipher)}' (only aes-128-ctr)");
            }
            var cipherParams = Object(crypto, "cipherparams");
            byte[] iv = HexField(cipherParams, "iv", 16);
            byte[] ciphertext = HexField(crypto, "ciphertext", PrivateKey.Length);
            byte[] mac = HexField(crypto, "mac", 32);
            string kdf = String(crypto, "kdf");
            var kdfParams = Object(crypto, "kdfparams");
            if (Int(kdfParams, "dklen") != DerivedKeyLength)
            {
                throw Malformed("kdfparams.dklen must be 32");
            }
            byte[] salt = HexField(kdfParams, "salt", -1);
            Address? address = null;
            if (root.TryGetProperty("address", out var addressElement) && addressElement.ValueKind == JsonValueKind.String)
            {
                string text = addressElement.GetString()!;
                if (!Crypto.Address.TryParse(text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text : "0x" + text, out var a))
                {
                    throw Malformed("\"address\" is not a 20-byte hex address");
                }
                address = a;
            }
            switch (kdf)
            {
                case "scrypt":
                    int n = Int(kdfParams, "n"), r = Int(kdfParams, "r"), p = Int(kdfParams, "p");
                    if (!KeystoreLimits.ScryptParametersAllowed(n, r, p, out string? problem))
                    {
                        throw Malformed(problem!);
                    }
                    return new Parsed { Iv = iv, Ciphertext = ciphertext, Mac = mac, Salt = salt, Kdf = kdf, N = n, R = r, P = p, Address = address };
                case "pbkdf2":
                    if (String(kdfParams, "prf") != "hmac-sha256")
                    {
                        throw Malformed("kdfparams.prf must be hmac-sha256");
                    }
                    int c = Int(kdfParams, "c");
                    if (c < 1 || c > KeystoreLimits.MaxPbkdf2Iterations)
                    {
                        throw Malformed($"kdfparams.c must be between 1 and {KeystoreLimits.MaxPbkdf2Iterations}");
                    }
                    return new Parsed { Iv = iv, Ciphertext = ciphertext, Mac = mac, Salt = salt, Kdf = kdf, Iterations = c, Address = address };
                default:
                    throw Malformed($"unsupported kdf '{Hash256.Shorten(kdf)}' (scrypt or pbkdf2)");
            }
        }
    }

    private static KeystoreException Malformed(string what) => new($"malformed keystore: {what}");

    private static JsonElement Object(JsonElement parent, string name)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Object)
        {
            throw Malformed($"\"{name}\" must be an object");
        }
        return value;
    }

    private static string String(JsonElement parent, string name)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String)
        {
            throw Malformed($"\"{name}\" must be a string");
        }
        return value.GetString()!;
    }

    private static int Int(JsonElement parent, string name)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int n))
        {
            throw Malformed($"\"{name}\" must be an integer");
        }
        return n;
    }

    /// <summary>A bare-hex field of exactly <paramref name="length"/> bytes (−1: any length from 1 to 1024).</summary>
    private static byte[] HexField(JsonElement parent, string name, int length)
    {
        string text = String(parent, name);
        byte[]? bytes = text.Length <= 2048 ? Hex.TryDecodeAny(text, prefixed: false) : null;
        if (bytes is null || (length >= 0 ? bytes.Length != length : bytes.Length == 0))
        {
            throw Malformed(length >= 0
                ? $"\"{name}\" must be {2 * length} hex digits"
                : $"\"{name}\" must be 2 to 2048 hex digits");
        }
        return bytes;
    }
}
