#!/usr/bin/env bash
# Every side-by-side benchmark in one run, one after another (nothing else should run on
# the machine meanwhile), then the criterion metrics bench over 1M rows on all three stores.
# Each script's full output goes to bench/out/<name>.txt and this prints each one's summary
# lines, so README's figures table can be filled from a single run.
# Needs what the scripts need: python3 + pip, node + npm, wrk (apt install wrk), PostgreSQL
# at $TUNELOOP_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
set -uo pipefail
cd "$(dirname "$0")/.."
out=bench/out
mkdir -p "$out"
export TUNELOOP_TEST_POSTGRES_URL=${TUNELOOP_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
python3 -c "import choix" 2>/dev/null || pip install -q -r tests/requirements-peers.txt
command -v wrk >/dev/null || { echo "needs wrk: apt install wrk" >&2; exit 1; }
failed=0
run() {
  local name=$1; shift
  echo "== $name ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))"
  if "$@" >"$out/$name.txt" 2>&1; then
    grep -iE "time:|median|ratio|x\)|×|req/s|p50|p99|rows/s|MB/s|ARI|peak|differ|tau|τ|kendall|overlap|serve \(|express|extrapolated|datasketch +:" "$out/$name.txt" | tail -12
  else
    echo "FAILED (see $out/$name.txt)"; tail -5 "$out/$name.txt"; failed=1
  fi
}
run metrics_vs_pandas bash bench/metrics_vs_pandas.sh
run ingest_sqlite bash bench/ingest_sqlite.sh --runs 5
run ingest_postgres bash bench/ingest_postgres.sh --runs 5
run tokens_vs_tiktoken bash bench/tokens_vs_tiktoken.sh
run trends_vs_pymannkendall bash bench/trends_vs_pymannkendall.sh
run cluster_vs_sklearn bash bench/cluster_vs_sklearn.sh
run redact_vs_python_re bash bench/redact_vs_python_re.sh
run dedup_vs_datasketch bash bench/dedup_vs_datasketch.sh
run rank_vs_choix bash bench/rank_vs_choix.sh
run http_feedback bash bench/http_feedback.sh
run http_metrics bash bench/http_metrics.sh
run import_memory bash bench/import_memory.sh
run criterion_metrics cargo bench -q -p tuneloop --bench metrics
echo "== done ($(date -u +%H:%M:%S))"
exit $failed
