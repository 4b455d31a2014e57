using Prova.Proofs.Field;

namespace Prova.Proofs.Commitments;

/// <summary>The prover's side of a commitment: the tables, the encoded columns and the Merkle tree.</summary>
public sealed class LigeroCommitted
{
    private readonly Fp[] _columns;

    internal LigeroCommitted(LigeroCommitment commitment, LigeroParameters parameters, Fp[][] tables, Fp[] columns, MerkleTree tree)
    {
        Commitment = commitment;
        Parameters = parameters;
        Tables = tables;
        _columns = columns;
        Tree = tree;
    }

    public LigeroCommitment Commitment { get; }

    public LigeroParameters Parameters { get; }

    internal Fp[][] Tables { get; }

    internal MerkleTree Tree { get; }

    internal int TotalRows => _columns.Length / Tree.LeafCount;

    internal ReadOnlySpan<Fp> Column(int j) => _columns.AsSpan(j * TotalRows, TotalRows);
}
