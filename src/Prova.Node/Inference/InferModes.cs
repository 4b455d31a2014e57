using System.Globalization;
using Prova.Core.Receipts;
using Prova.Node.Api;

namespace Prova.Node.Inference;

/// <summary>
/// The modes <c>POST /v1/infer</c> accepts: <c>attested</c> and <c>quorum:K</c> (K = 2..16, no leading
/// zero). A quorum member runs exactly like an attested node; the mode string goes into the signed
/// receipt unchanged, so a receipt cannot be replayed as one of another mode. <c>proof</c> is served by
/// <see cref="ProofService"/> (the receipt plus a PRVP proof, docs/proofs.md "Product").
/// </summary>
public static class InferModes
{
    public const string ProofMode = "proof";

    public const int MinQuorum = 2;

    public const int MaxQuorum = 16;

    public static bool TryParseQuorum(string mode, out int k)
    {
        k = 0;
        return mode.StartsWith("quorum:", StringComparison.Ordinal)
            && mode.Length > 7 && mode[7] != '0'
            && int.TryParse(mode.AsSpan(7), NumberStyles.None, CultureInfo.InvariantCulture, out k)
            && k is >= MinQuorum and <= MaxQuorum;
    }

    /// <summary>Throws the ProblemDetails for a mode this node does not serve.</summary>
    public static void Check(string mode)
    {
        if (mode == Receipt.AttestedMode || mode == ProofMode || TryParseQuorum(mode, out _))
        {
            return;
        }
        string shown = mode.Length > 40 ? mode[..40] + "..." : mode;
        throw new ApiException(422, "unsupported-mode", $"mode '{shown}' is not a mode: use \"attested\", \"proof\" or \"quorum:K\" with K = {MinQuorum}..{MaxQuorum}");
    }
}
