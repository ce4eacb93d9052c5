#!/usr/bin/env bash
# One prepared GPU session: step speed vs the official implementation at 256x256, inference
# speed, the loader with and without the decoded cache on the machine's cores, then a real CLI
# run (train fp32 and bf16, resume, translate), and with DATA (a folder with trainA/ trainB/
# testA/ testB/, e.g. horse2zebra at 128) the bf16 quality check: fp32 twice (seeds 0 and 1,
# the run-to-run noise) and bf16 once, QSTEPS steps each, FID/KID of all three. Results in $OUT.
# Usage: OFFICIAL=path/to/official SIZE=256 STEPS=20 [DATA=dir QSTEPS=3000] \
#        bash benchmarks/gpu_check.sh
set -uo pipefail
OUT="${OUT:-/tmp/gpu-check}"; mkdir -p "$OUT"
SIZE="${SIZE:-256}"; STEPS="${STEPS:-20}"; TRAIN_STEPS="${TRAIN_STEPS:-50}"
PY="${PY:-python3}"; DEV="${DEV:-cuda}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
B="$PY benchmarks/bench.py --device $DEV --sizes $SIZE --steps $STEPS --warmup 5 --flops --official ${OFFICIAL}"
[ -n "${SKIP_BENCH:-}" ] || {
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
  $PY -c "import torch; print('torch', torch.__version__)"
  $B --batches 1 --compare official fused bf16 channels_last bf16_cl
  $B --batches 8 --compare official fused bf16 bf16_cl
  $B --mode infer --batches 1 8 --compare official fused bf16_cl
} 2>&1 | tee "$OUT/bench.jsonl"
$PY benchmarks/loader_speed.py --workers 0 4 8 16 --count 800 --images 800 --rounds 1 \
  2>&1 | tee "$OUT/loader.jsonl"
if [ -n "${DATA:-}" ]; then  # item 4: bf16 against fp32's run-to-run noise
  Q="${QSTEPS:-3000}"
  for r in "fp32 0 fp32" "fp32b 1 fp32" "bf16 0 bf16"; do
    set -- $r
    $PY -m unpaired train "$DATA" --runs-dir "$OUT/quality" --name "$1" --seed "$2" \
      --precision "$3" --device "$DEV" --image-size 128 --load-size 143 --max-steps "$Q" \
      --progress lines --log-every 500 --sample-every 100000 --cache-decoded
    $PY -m unpaired evaluate "$OUT/quality/$1" "$DATA" --metrics fid,kid --device "$DEV" \
      --output "$OUT/quality_$1.json"
  done 2>&1 | tee "$OUT/quality.log"
fi

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
