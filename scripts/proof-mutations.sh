#!/usr/bin/env bash
# Mutation run of the proof verifier (docs/proofs.md "Verifier checks"): every place the verifier can
# refuse a proof is guarded by VerifierMutation.Live("<site>"). This script builds a temporary copy of
# the proof library and its tests with -p:ProvaProofMutants=true, then runs tests/Prova.Proofs.Tests
# once per site with PROVA_PROOF_MUTANT=<site> (that one check switched off) and reports whether some
# test failed ("killed") or none did ("SURVIVED"). Exit status 1 if any mutant survived or the
# unmutated baseline fails.
#
#   scripts/proof-mutations.sh              # every site (≈ 45 runs; ~25–40 min on a shared 2-core box)
#   scripts/proof-mutations.sh ActivationClaim pcs-merkle   # just these sites
#
# The table goes to stdout and to artifacts/proof-mutations.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
start=$SECONDS

work="$(mktemp -d "${TMPDIR:-/tmp}/prova-mutants.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# A copy, so the mutant build never touches the checkout's bin/obj.
for f in Prova.slnx Directory.Build.props Directory.Packages.props global.json .editorconfig; do
    cp "$root/$f" "$work/"
done
mkdir -p "$work/tests"
(cd "$root" && tar --exclude=bin --exclude=obj -cf - src tests/Shared tests/Prova.Proofs.Tests) | (cd "$work" && tar -xf -)
ln -s "$root/models" "$work/models"

echo "== building the mutant-enabled copy in $work"
dotnet build "$work/tests/Prova.Proofs.Tests" -c Release -v q -nologo -clp:NoSummary -p:ProvaProofMutants=true

if [ $# -gt 0 ]; then
    sites=("$@")
else
    mapfile -t sites < <(grep -rhoE 'VerifierMutation\.Live\((ProofCheck\.[A-Za-z]+|"[^"]+")\)' "$root/src/Prova.Proofs" \
        | sed -E 's/^VerifierMutation\.Live\(//; s/\)$//; s/^ProofCheck\.//; s/"//g' | sort -u)
fi

# Runs the proof tests with one site switched off ("" = none); stops at the first failing test.
# Prints the first failing test's name, or nothing when every test passed.
run() {
    local log="$work/run.log"
    if PROVA_PROOF_MUTANT="$1" dotnet test "$work/tests/Prova.Proofs.Tests" -c Release --no-build -nologo \
        -- xUnit.StopOnFail=true >"$log" 2>&1; then
        return 0
    fi
    local failed
    failed="$(grep -m1 -E '^\s+Failed ' "$log" | sed -E 's/^\s+Failed //; s/ \[[^]]*\]$//; s/^Prova\.Proofs\.Tests\.//')"
    echo "${failed:-(test run failed: $(tail -n 1 "$log"))}"
}

echo "== baseline (no mutant)"
baseline="$(run "")"
if [ -n "$baseline" ]; then
    echo "the unmutated tests fail ($baseline); fix them first" >&2
    exit 1
fi

mkdir -p "$root/artifacts"
report="$root/artifacts/proof-mutations.md"
{
    echo "| site (check switched off) | result | first failing test |"
    echo "|---|---|---|"
} >"$report"
survived=0
for site in "${sites[@]}"; do
    t0=$SECONDS
    killer="$(run "$site")"
    if [ -n "$killer" ]; then
        line="| \`$site\` | killed | \`$killer\` |"
    else
        line="| \`$site\` | **SURVIVED** | — |"
        survived=$((survived + 1))
    fi
    echo "$line" >>"$report"
    echo "$line ($((SECONDS - t0)) s)"
done
total=${#sites[@]}
echo
echo "$((total - survived)) of $total mutants killed, $survived survived; $((SECONDS - start)) s in all. Table: $report"
[ "$survived" -eq 0 ]
