#!/bin/bash
# Rebuild kvscope's embedded default model from nothing: corpus -> tokenizer ->
# two training stages -> export into resources/model/default/, then the C++
# test fixture.  Takes about 70 minutes on two cores (45 + 23 of training).
# Debian's python3 is used explicitly because it is the one with python3-torch.
#
#   resources/model/build_default_model.sh
set -euo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3
mkdir -p cache
$PY make_corpus.py --seed 1 --chars 8000000 --out corpus.txt
$PY bpe_train.py --corpus corpus.txt --vocab-size 1024 --out cache/tok
# Stage 1: 1800 steps from scratch (peak lr 3e-3).
$PY train.py --corpus corpus.txt --tokenizer cache/tok --out cache/stage1
# Stage 2: a warm restart from the stage-1 export, 1000 more steps at half
# the peak lr; the first run alone still looped inside invented names.
$PY train.py --corpus corpus.txt --tokenizer cache/tok --init cache/stage1 --out default \
    --steps 1000 --lr 1.5e-3 --warmup 50 --seed 4321
$PY make_fixture.py --model default --out ../../tests/default_model/expected.json
