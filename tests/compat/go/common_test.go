package compat

// What the Go clients' tests share: the broker's address and advertised
// APIs (the driver sets SLUICE_BOOTSTRAP and SLUICE_APIS), unique names,
// bounded waits, and the rule for a feature the broker does not have yet:
// the test says "UNSUPPORTED: ..." and stops (run_go.py reports it as a
// row that says so, never as a pass); any other skip is a failure.

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	eos     = "waits on issue 10, exactly-once"
	compact = "waits on issue 11, compaction and DeleteRecords"
)

func bootstrap(t *testing.T) string {
	b := os.Getenv("SLUICE_BOOTSTRAP")
	if b == "" {
		t.Fatal("SLUICE_BOOTSTRAP is not set (run tests/compat/go/run_go.py)")
	}
	return b
}

// requireAPIs stops the test as UNSUPPORTED unless the broker advertises
// every API ("22:InitProducerId").
func requireAPIs(t *testing.T, waitsOn string, apis ...string) {
	t.Helper()
	have := map[int]bool{}
	for _, k := range strings.Split(os.Getenv("SLUICE_APIS"), ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(k)); err == nil {
			have[n] = true
		}
	}
	var missing []string
	for _, a := range apis {
		i := strings.IndexByte(a, ':')
		n, _ := strconv.Atoi(a[:i])
		if !have[n] {
			missing = append(missing, a[i+1:])
		}
	}
	if len(missing) > 0 {
		t.Skipf("UNSUPPORTED: the broker does not advertise %s (%s)",
			strings.Join(missing, ", "), waitsOn)
	}
}

func unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// waitFor polls cond every 50 ms until it holds or the time is up.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// values makes n distinct values "<tag>-<i>".
func values(tag string, n int) []string {
	v := make([]string, n)
	for i := range v {
		v[i] = fmt.Sprintf("%s-%d", tag, i)
	}
	return v
}

// sameSet fails unless got holds exactly the values of want, once each.
func sameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for _, w := range want {
		if seen[w] != 1 {
			t.Fatalf("%s: %q seen %d times", what, w, seen[w])
		}
	}
}
