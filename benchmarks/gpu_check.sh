#!/usr/bin/env bash
# One prepared GPU session: step speed vs the official implementation at 256x256, inference
# speed, then a real CLI run (train fp32 and bf16, resume, translate). Results in $OUT.
# Usage: OFFICIAL=path/to/official SIZE=256 STEPS=20 bash benchmarks/gpu_check.sh
set -uo pipefail
OUT="${OUT:-/tmp/gpu-check}"; mkdir -p "$OUT"
SIZE="${SIZE:-256}"; STEPS="${STEPS:-20}"; TRAIN_STEPS="${TRAIN_STEPS:-50}"
PY="${PY:-python3}"; DEV="${DEV:-cuda}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
B="$PY benchmarks/bench.py --device $DEV --sizes $SIZE --steps $STEPS --warmup 5 --official ${OFFICIAL}"
[ -n "${SKIP_BENCH:-}" ] || {
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
  $PY -c "import torch; print('torch', torch.__version__)"
  $B --batches 1 --compare official fused bf16 channels_last bf16_cl
  $B --batches 8 --compare official fused bf16_cl
  $B --mode infer --batches 1 8 --compare official fused bf16_cl
} 2>&1 | tee "$OUT/bench.jsonl"

run() { $PY -m unpaired train --runs-dir "$OUT/runs" --device "$DEV" --progress lines \
  --image-size "$SIZE" --load-size $((SIZE + SIZE / 8)) --set data.demo_size="$SIZE" \
  --set data.demo_images=100 --log-every 10 --sample-every 1000 "$@"; }
{
  run --name fp32 --max-steps "$TRAIN_STEPS"
  run --name bf16 --max-steps "$TRAIN_STEPS" --precision bf16
  $PY -m unpaired train --resume "$OUT/runs/fp32" --max-steps $((TRAIN_STEPS + 10)) --progress lines
  $PY -m unpaired translate "$OUT/runs/fp32" --input "$OUT"/runs/.demo-data/*/testA --output "$OUT/translated" --device "$DEV"
  ls "$OUT/translated" | head; find "$OUT/translated" -name '*.png' | wc -l
  for r in fp32 bf16; do echo "$r"; tail -n 3 "$OUT/runs/$r/metrics.jsonl"; done
} > "$OUT/cli.log" 2>&1
tail -n 30 "$OUT/cli.log"
cp "$OUT"/runs/fp32/samples/*.png "$OUT/" 2>/dev/null || true
# torch.compile last: its first compilation is slow and must not crowd out the rest.
[ -n "${SKIP_BENCH:-}" ] || $B --batches 1 --compare fused compile 2>&1 | tee -a "$OUT/bench.jsonl"
