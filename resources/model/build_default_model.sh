#!/usr/bin/env bash
# Rebuilds kvscope's embedded default model from nothing: corpus, tokenizer, training, export,
# the C++ test fixture and the attention-head analysis. About 50 minutes on 2 cores.
#   bash resources/model/build_default_model.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${KVSCOPE_MODEL_WORK:-$(mktemp -d)}"
python=/usr/bin/python3  # Debian's, with python3-torch and python3-numpy

python3 "$here/make_corpus.py" --seed 1 --out "$work/corpus.txt"
rm -rf "$here/default"
"$python" "$here/train.py" --corpus "$work/corpus.txt" --out "$here/default" --steps 1800
"$python" "$here/make_fixture.py" --model "$here/default"
"$python" "$here/analyze_heads.py" --model "$here/default" --corpus "$work/corpus.txt"
echo "model in $here/default; corpus kept in $work"
