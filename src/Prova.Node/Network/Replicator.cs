using Prova.Core.Crypto;

namespace Prova.Node.Network;

/// <summary>Pulls models that the network holds too few copies of (docs/network.md, "Replication").</summary>
public sealed class Replicator
{
    /// <summary>Called after each gossip round with our record and the known peers' records.</summary>
    public void Tick(PeerRecord self, IReadOnlyList<PeerRecord> peers)
    {
        _ = self;
        _ = peers;
    }
}
