// Package compat holds the Go clients' compatibility tests against a
// running sluiced: franz-go (kgo, kadm), IBM/sarama and segmentio/kafka-go,
// one test file per client. tests/compat/go/run_go.py starts the broker and
// runs `go test` offline (GOFLAGS=-mod=readonly, GOPROXY=off, the module
// cache the set-up filled).
package compat
