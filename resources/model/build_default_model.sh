#!/bin/bash
# Rebuild kvscope's two embedded models from nothing: corpus -> tokenizers -> both trainings
# (side by side, one core each) -> exports into resources/model/default/ (GPT-2, a Hugging Face
# folder) and resources/model/llama/ (Llama, one GGUF file) -> the Llama's fine-tune -> the C++
# test fixtures. About an hour on two cores (README.md beside this file has the measured times).
# Debian's python3 is used explicitly because it is the one with python3-torch.
#
#   resources/model/build_default_model.sh
set -euo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3
mkdir -p cache
# A finite pool of 60 invented names per sex, so every name gets a token of its own.
# No place, activity or food twice in a story while others are left, and every kind of episode
# once before any repeats, so the likeliest continuation (greedy decoding) keeps moving on.
$PY make_corpus.py --seed 1 --chars 8000000 --name-pool 60 --no-repeats --out corpus.txt
# Byte-level BPE: the trainer stops when no pair repeats (2,163 ids), every word and name whole.
$PY bpe_train.py --corpus corpus.txt --vocab-size 3072 --out cache/tok
# SentencePiece BPE: 2,560 pieces is the smallest round size with every name whole, with and
# without the space before it.
$PY sp_tokenizer.py --corpus corpus.txt --vocab-size 2560 --out cache/sp
$PY train.py --arch gpt2 --corpus corpus.txt --tokenizer cache/tok --out default \
    --layers 6 --heads 6 --dim 96 --steps 1500 --long-every 8 --lr 3e-3 > cache/gpt2.log &
gpt2=$!
$PY train.py --arch llama --corpus corpus.txt --tokenizer cache/sp --out llama \
    --layers 6 --heads 8 --kv-heads 2 --dim 96 --hidden 256 --steps 1500 --long-every 8 --lr 3e-3 \
    > cache/llama.log &
llama=$!
wait $gpt2
wait $llama
# The Llama's last stage: 200 short updates that price its own greedy loops and the ids its
# training stream never holds (README.md, "The Llama's fine-tune"); the GPT-2 needs none.
$PY finetune_unlikelihood.py llama/model.gguf cache/sp corpus.txt cache/llama_ft --steps 200 \
    --lr 3e-5 --alpha 1 --dead 1 --odd-prefix 0.3 --seed 5 --export llama > cache/llama_ft.log
cp cache/llama_ft.log llama/finetune_log.txt
$PY make_fixture.py --arch gpt2 --model default --out ../../tests/default_model/expected.json
$PY make_fixture.py --arch llama --model llama --out ../../tests/default_model/llama_expected.json
