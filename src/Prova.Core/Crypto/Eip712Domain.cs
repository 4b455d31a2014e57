using System.Numerics;

namespace Prova.Core.Crypto;

/// <summary>
/// The EIP-712 domain: which application, version, chain and contract a signature is for. Only the
/// members that are set take part (in the EIP's order: name, version, chainId, verifyingContract, salt).
/// </summary>
public sealed record Eip712Domain(
    string? Name = null,
    string? Version = null,
    BigInteger? ChainId = null,
    Address? VerifyingContract = null,
    Hash256? Salt = null)
{
    /// <summary>The EIP712Domain struct type for the members that are set.</summary>
    public IReadOnlyList<Eip712.Field> Fields
    {
        get
        {
            var fields = new List<Eip712.Field>(5);
            if (Name is not null)
            {
                fields.Add(new("name", "string"));
            }
            if (Version is not null)
            {
                fields.Add(new("version", "string"));
            }
            if (ChainId is not null)
            {
                fields.Add(new("chainId", "uint256"));
            }
            if (VerifyingContract is not null)
            {
                fields.Add(new("verifyingContract", "address"));
            }
            if (Salt is not null)
            {
                fields.Add(new("salt", "bytes32"));
            }
            return fields;
        }
    }

    /// <summary>The members that are set, keyed by their EIP-712 names.</summary>
    public IReadOnlyDictionary<string, object?> Values
    {
        get
        {
            var values = new Dictionary<string, object?>(StringComparer.Ordinal);
            if (Name is not null)
            {
                values["name"] = Name;
            }
            if (Version is not null)
            {
                values["version"] = Version;
            }
            if (ChainId is { } chainId)
            {
                values["chainId"] = chainId;
            }
            if (VerifyingContract is { } contract)
            {
                values["verifyingContract"] = contract;
            }
            if (Salt is { } salt)
            {
                values["salt"] = salt;
            }
            return values;
        }
    }

    /// <summary>hashStruct(EIP712Domain) for this domain.</summary>
    public Hash256 Separator()
    {
        var types = new Dictionary<string, IReadOnlyList<Eip712.Field>>(StringComparer.Ordinal)
        {
            [Eip712.DomainTypeName] = Fields,
        };
        return Eip712.HashStruct(types, Eip712.DomainTypeName, Values);
    }
}
