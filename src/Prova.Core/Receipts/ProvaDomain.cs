using System.Numerics;
using Prova.Core.Crypto;

namespace Prova.Core.Receipts;

/// <summary>The EIP-712 domain of everything Prova signs (docs/keys.md): name "Prova", version "1".</summary>
public static class ProvaDomain
{
    public const string Name = "Prova";
    public const string Version = "1";

    /// <summary>The domain for <paramref name="chainId"/>; the verifying contract is the zero address until settlement exists.</summary>
    public static Eip712Domain Create(BigInteger chainId, Address? verifyingContract = null) =>
        new(Name, Version, chainId, verifyingContract ?? Address.Zero);
}
