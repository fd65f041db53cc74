// Command testsummary reads `go test -json` on stdin and prints what `go
// test` prints for a list of packages (a line per package; the output of
// failing tests only), then names the tests that were skipped because a
// browser is missing: package-list mode hides a passing package's output,
// skips included, so `make test` pipes through it to say what it did not
// check.
package main
