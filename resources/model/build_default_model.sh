#!/bin/bash
# Rebuild kvscope's embedded default model from nothing: corpus -> tokenizer ->
# training -> export into resources/model/default/, then the C++ test fixture.
# Takes about 50 minutes on two cores.  Debian's python3 is used explicitly
# because it is the one with python3-torch.
#
#   resources/model/build_default_model.sh
set -euo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3
mkdir -p cache
$PY make_corpus.py --seed 1 --chars 8000000 --out corpus.txt
$PY bpe_train.py --corpus corpus.txt --vocab-size 1024 --out cache/tok
$PY train.py --corpus corpus.txt --tokenizer cache/tok --out default
$PY make_fixture.py --model default --out ../../tests/default_model/expected.json
