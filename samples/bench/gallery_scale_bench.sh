#!/usr/bin/env bash
# Gallery load time and memory at 10k, 100k and 1M embeddings from SQLite and PostgreSQL, and the
# exact matcher's time per query at the largest (build/bin/gallery_scale_bench); then, on face-like
# clustered data of each size, the FAISS IVF index (AnnIndex): build, ms per face, recall@1
# against exact search, patched() time. Starts a throwaway PostgreSQL server (initdb + pg_ctl in
# a temporary folder, a free 127.0.0.1 port; as root through `runuser -u postgres`), stopped and
# deleted at the end.
#   --sizes N,N,...     embeddings per gallery (default 10000,100000,1000000)
#   --embedding-size E  values per embedding (default 128: the dlib ResNet's)
#   Binaries from $SIAMESE_BUILD_DIR (default build/).
set -euo pipefail
bench_name=gallery_scale_bench
source "$(dirname "$0")/bench_common.sh"
sizes=10000,100000,1000000
embedding_size=128
bench_flags sizes=sizes embedding-size=embedding_size -- "$@"
[ -x "$build/bin/gallery_scale_bench" ] || die "build the gallery_scale_bench target first"
pg_bin="${SIAMESE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[ -x "$pg_bin/initdb" ] || die "PostgreSQL server binaries not found (apt-get install postgresql)"
work="$(mktemp -d /tmp/siamese-scale-XXXXXX)"
as=()
if [ "$(id -u)" = 0 ]; then chown postgres "$work"; as=(runuser -u postgres --); fi
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cleanup() {
  "${as[@]}" "$pg_bin/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"${as[@]}" "$pg_bin/initdb" -D "$work/data" -U postgres --auth=trust -E UTF8 --no-sync \
  >"$work/initdb.log" 2>&1 || die "initdb failed: $(cat "$work/initdb.log")"
"${as[@]}" "$pg_bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w \
  -o "-p $port -k $work -c listen_addresses=127.0.0.1" start >/dev/null
for n in ${sizes//,/ }; do
  "${as[@]}" "$pg_bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -c "CREATE DATABASE scale_$n"
done
mkdir -p "$work/sqlite"
"$build/bin/gallery_scale_bench" --dir "$work/sqlite" \
  --postgres "postgresql://postgres@127.0.0.1:$port/scale" --sizes "$sizes" \
  --embedding-size "$embedding_size"
