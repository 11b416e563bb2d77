#!/usr/bin/env bash
# The project's full test run: the pure-Go build with the race detector,
# then every build tag. Keep in step with the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt, go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "not gofmt-formatted:"; echo "$unformatted"; exit 1; fi
CGO_ENABLED=0 go vet ./...
go vet -tags openblas ./...

echo "== pure Go (CGO_ENABLED=0)"
CGO_ENABLED=0 go build ./...
echo "== pure Go, race detector"
go test -race -count=1 ./...
echo "== build tag openblas"
go test -count=1 -tags openblas ./...
