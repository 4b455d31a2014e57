#!/usr/bin/env bash
# Runs every Prova test on a fresh machine: installs what the tests need, builds in Release,
# runs all test projects, and prints one closing line "N passed, M failed, K skipped".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

bash scripts/setup.sh
mkdir -p artifacts
rm -rf artifacts/conformance-summary.txt artifacts/test-results

echo "== build (Release)"
dotnet build Prova.slnx -c Release -v q -nologo -clp:NoSummary

echo "== code style (dotnet format --verify-no-changes)"
# dotnet format loads the projects in Debug: the binding generator (an analyzer project reference) must
# exist in Debug too, or the generated contract bindings are missing from its view of the code.
dotnet build src/Prova.Evm.Generators -v q -nologo -clp:NoSummary
dotnet format Prova.slnx --verify-no-changes --no-restore -v q

echo "== contracts (artifacts match a fresh solc-js compile; forge tests)"
node contracts/build.mjs --check
if ! (cd contracts && node_modules/.bin/forge test) >artifacts/forge-output.txt 2>&1; then
    grep -E "^\[FAIL|^Suite result|^Ran [0-9]+ test suites|^Error" artifacts/forge-output.txt || tail -n 30 artifacts/forge-output.txt
    echo "forge tests failed (artifacts/forge-output.txt)" >&2
    exit 1
fi
grep -E "^Ran [0-9]+ test suites" artifacts/forge-output.txt

echo "== tests"
set +e
dotnet test Prova.slnx -c Release --no-build -v q -nologo --logger "trx;LogFilePrefix=prova" \
    --results-directory artifacts/test-results 2>&1 | tee artifacts/test-output.txt
status=${PIPESTATUS[0]}
set -e

if [ -f artifacts/conformance-summary.txt ]; then
    echo "== ONNX backend conformance"
    cat artifacts/conformance-summary.txt
fi

# Sum the per-project counts from the TRX files into one closing line.
python3 - "$status" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for path in glob.glob("artifacts/test-results/prova*.trx"):
    counters = ET.parse(path).getroot().find(".//{*}Counters")
    if counters is None:
        continue
    passed += int(counters.get("passed", 0))
    failed += int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0))
    skipped += int(counters.get("notExecuted", 0))
if passed == 0 and failed == 0:
    print("no test results found", file=sys.stderr)
    sys.exit(1)
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit "$status"
