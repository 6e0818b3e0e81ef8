#!/usr/bin/env bash
# Two-node rendezvous on one machine: two `bench run` launchers (--nnodes 2, one worker each)
# meet at localhost:PORT, train pix2pix (smoke) together and write one run folder and one row.
# Usage: benchmarks/two_nodes_localhost.sh [OUT_DIR] [PORT]
set -euo pipefail
out=${1:-$(mktemp -d)}
port=${2:-29531}
mkdir -p "$out"
bench=${BENCH:-bench}
args=(run --models pix2pix --profile smoke --steps 4 --metrics psnr --device cpu -q
      --set synthetic-facades.train_size=24 --set synthetic-facades.test_size=8 --set synthetic-facades.size=64
      --data-root "$out/data" --output-root "$out/results"
      --nproc-per-node 1 --nnodes 2 --rdzv-endpoint "localhost:$port")
export OMP_NUM_THREADS=1
"$bench" "${args[@]}" > "$out/node0.log" 2>&1 & first=$!
"$bench" "${args[@]}" > "$out/node1.log" 2>&1; second=$?
wait "$first"; echo "node launchers exited with $? and $second"
echo "run folders: $(ls "$out/results/runs" | wc -l)"
tail -n 6 "$out/node0.log" "$out/node1.log"
