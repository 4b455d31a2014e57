using System.Numerics;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Core.Receipts;

namespace Prova.Core.Content;

/// <summary>
/// An owner's signed statement "version <see cref="Version"/> of model <see cref="Name"/> is the content
/// <see cref="Model"/>" (EIP-712, Prova domain, docs/node-api.md):
/// <code>
/// ModelPublication(string name,string version,bytes32 model,address owner,uint64 timestamp)
/// </code>
/// The fields are exactly what an on-chain ModelRegistry would store, so the record moves there unchanged.
/// </summary>
public sealed record ModelPublication(string Name, string Version, Cid Model, Address Owner, ulong Timestamp)
{
    public const string PrimaryType = "ModelPublication";

    public static IReadOnlyList<Eip712.Field> Fields { get; } =
    [
        new("name", "string"),
        new("version", "string"),
        new("model", "bytes32"),
        new("owner", "address"),
        new("timestamp", "uint64"),
    ];

    public static string TypeString { get; } = Eip712.EncodeType(Types, PrimaryType);

    private static IReadOnlyDictionary<string, IReadOnlyList<Eip712.Field>> Types =>
        new Dictionary<string, IReadOnlyList<Eip712.Field>>(StringComparer.Ordinal) { [PrimaryType] = Fields };

    public Eip712.TypedData ToTypedData(BigInteger chainId, Address? verifyingContract = null)
    {
        var message = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["name"] = Name,
            ["version"] = Version,
            ["model"] = Model.Digest,
            ["owner"] = Owner,
            ["timestamp"] = Timestamp,
        };
        return Eip712.TypedData.Create(ProvaDomain.Create(chainId, verifyingContract), Types, PrimaryType, message);
    }

    /// <summary>Signs the publication; <paramref name="owner"/> must be the key of <see cref="Owner"/>.</summary>
    public Signature Sign(PrivateKey owner, BigInteger chainId, Address? verifyingContract = null)
    {
        if (owner.Address != Owner)
        {
            throw new ArgumentException($"the publication names owner {Owner} but the key is {owner.Address}", nameof(owner));
        }
        return owner.Sign(ToTypedData(chainId, verifyingContract).SigningHash());
    }

    /// <summary>Valid when <paramref name="signature"/> recovers to <see cref="Owner"/>.</summary>
    public VerificationResult Verify(Signature signature, BigInteger chainId, Address? verifyingContract = null)
    {
        Hash256 hash;
        try
        {
            hash = ToTypedData(chainId, verifyingContract).SigningHash();
        }
        catch (CryptoFormatException ex)
        {
            return VerificationResult.Fail(VerificationReason.BadSignature, $"the publication cannot be encoded: {ex.Message}");
        }
        if (signature == default || !Secp256k1.TryRecover(hash, signature, out var recovered))
        {
            return VerificationResult.Fail(VerificationReason.BadSignature, "the signature does not recover to any address");
        }
        return recovered == Owner
            ? VerificationResult.Valid
            : VerificationResult.Fail(VerificationReason.BadSignature, $"the signature recovers to {recovered}, not to the owner {Owner}");
    }
}
