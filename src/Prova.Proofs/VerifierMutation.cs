#if PROVA_PROOF_MUTANTS
using Prova.Proofs.Inference;
#endif

namespace Prova.Proofs;

/// <summary>
/// Mutation testing of the verifier (scripts/proof-mutations.sh): every place a verifier can refuse
/// guards its condition with <c>VerifierMutation.Live(site)</c>. Built normally this is the constant
/// true (inlined away). Built with <c>-p:DefineConstants=PROVA_PROOF_MUTANTS</c> (the script's
/// separate build, never shipped) the one site named by the environment variable
/// <c>PROVA_PROOF_MUTANT</c> is switched off, so the script can check that some test fails for every
/// disabled check.
/// </summary>
internal static class VerifierMutation
{
#if PROVA_PROOF_MUTANTS
    private static readonly string? s_disabled = Environment.GetEnvironmentVariable("PROVA_PROOF_MUTANT");

    public static bool Live(string site) => !string.Equals(site, s_disabled, StringComparison.Ordinal);

    public static bool Live(ProofCheck check) => Live(check.ToString());
#else
    public static bool Live(string site) => true;

    public static bool Live(Inference.ProofCheck check) => true;
#endif
}
