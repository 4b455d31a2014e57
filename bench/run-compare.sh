#!/usr/bin/env bash
# Prova vs ONNX Runtime (CPU), side by side on the same models and inputs.
#   bench/run-compare.sh            full comparison (a few minutes), writes artifacts/compare.md
#   bench/run-compare.sh --quick    smoke run
# Any other arguments go to Prova.Compare (see --help), e.g. --models transformer --profile.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

command -v node >/dev/null || { echo "run-compare: node (>= 18) is required for the ONNX Runtime side" >&2; exit 2; }
command -v dotnet >/dev/null || { echo "run-compare: the .NET SDK is required" >&2; exit 2; }

# onnxruntime-node ships its CPU library inside the npm package; skipping the install script means
# nothing is downloaded beyond the registry package itself.
if [ ! -d bench/ort/node_modules/onnxruntime-node ]; then
  echo "run-compare: installing onnxruntime-node (npm ci)"
  (cd bench/ort && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund)
fi

dotnet build bench/compare/Prova.Compare/Prova.Compare.csproj -c Release -v q -nologo
mkdir -p artifacts
dotnet bench/compare/Prova.Compare/bin/Release/net10.0/Prova.Compare.dll --markdown artifacts/compare.md "$@"

# Quantized (int8 QDQ) models in the same run: exact-match rate of the integer outputs and latency ratio.
if [[ " $* " != *" --quick "* ]]; then
  dotnet build bench/quant/Prova.QuantCompare/Prova.QuantCompare.csproj -c Release -v q -nologo
  {
    echo
    echo "### Quantized models (int8 QDQ), Prova integer path vs ONNX Runtime"
    echo
    echo '```'
    for batch in 1 32; do
      for threads in 1 2; do
        dotnet bench/quant/Prova.QuantCompare/bin/Release/net10.0/Prova.QuantCompare.dll --batch "$batch" --threads "$threads"
      done
    done
    echo '```'
  } | tee -a artifacts/compare.md
fi
