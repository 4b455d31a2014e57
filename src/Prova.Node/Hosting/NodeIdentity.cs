using System.Numerics;
using Microsoft.Extensions.Options;
using Prova.Core.Crypto;
using Prova.Core.Keys;

namespace Prova.Node.Hosting;

/// <summary>
/// The node's key and the EIP-712 domain it signs in. The key is loaded from (or, on first start,
/// created at) &lt;data-dir&gt;/keys/node.json; the password is never logged.
/// </summary>
public sealed class NodeIdentity
{
    public NodeIdentity(IOptions<NodeOptions> options, KeystoreOptions keystore, ILogger<NodeIdentity> logger)
    {
        var o = options.Value;
        ChainId = o.ChainIdValue;
        VerifyingContract = o.VerifyingContractValue;
        if (o.Key is { } key)
        {
            Key = key;
            return;
        }
        string path = KeyStore.NodeKeyPath(o.DataDir);
        string password = o.KeyPassword
            ?? Environment.GetEnvironmentVariable(KeyPassword.EnvironmentVariable)
            ?? throw new NodeStartException($"no key password: set {KeyPassword.EnvironmentVariable}");
        if (File.Exists(path))
        {
            Key = KeyStore.Load(path, password);
            Log.KeyLoaded(logger, Key.Address, path);
        }
        else
        {
            Key = PrivateKey.Generate();
            KeyStore.Save(path, Key, password, keystore);
            Log.KeyCreated(logger, Key.Address, path);
        }
    }

    public PrivateKey Key { get; }

    public Address Address => Key.Address;

    public BigInteger ChainId { get; }

    public Address VerifyingContract { get; }
}
