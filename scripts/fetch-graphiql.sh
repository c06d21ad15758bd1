#!/usr/bin/env bash
# Refreshes assets/graphiql/ from the npm registry at pinned versions, with
# their licences, so the GraphiQL page works without internet access. The
# gateway embeds these files (src/http/graphiql.rs); SHA256SUMS records them.
set -euo pipefail
GRAPHIQL=3.8.3   # the last major with a standalone (UMD) browser build
REACT=18.3.1
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null)
for package in "graphiql-$GRAPHIQL" "react-$REACT" "react-dom-$REACT"; do
  mkdir -p "$work/$package" && tar -xzf "$work/$package.tgz" -C "$work/$package"
done
out=assets/graphiql
rm -rf "$out" && mkdir -p "$out"
cp "$work/graphiql-$GRAPHIQL/package/graphiql.min.js" "$work/graphiql-$GRAPHIQL/package/graphiql.min.css" "$out/"
cp "$work/react-$REACT/package/umd/react.production.min.js" "$out/"
cp "$work/react-dom-$REACT/package/umd/react-dom.production.min.js" "$out/"
cp "$work/graphiql-$GRAPHIQL/package/LICENSE" "$out/LICENSE-graphiql.txt"
cp "$work/react-$REACT/package/LICENSE" "$out/LICENSE-react.txt"
cp "$work/react-dom-$REACT/package/LICENSE" "$out/LICENSE-react-dom.txt"
printf 'graphiql@%s react@%s react-dom@%s (npm registry)\n' "$GRAPHIQL" "$REACT" "$REACT" > "$out/VERSIONS"
(cd "$out" && sha256sum ./*.js ./*.css ./LICENSE-* VERSIONS > SHA256SUMS)
echo "assets/graphiql refreshed"
