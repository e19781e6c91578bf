package service

import (
	"context"
	"runtime"
	"testing"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store"
)

// A broker's cache entry that is forgotten (by Register, Resign or a
// removal) while a heartbeat holds it stays the broker's only entry: the
// next heartbeat waits for the one running and then reads afresh, instead
// of running beside it with a second entry.
func TestForgottenEntryInUseIsTheOnlyOne(t *testing.T) {
	s := &Service{members: map[memberKey]*memberEntry{}}
	g := ledgerless.GroupKey{Cluster: "c", Group: "g"}
	held, _ := s.acquire(context.Background(), g, 1)
	held.m = &store.Member{Group: g}
	s.forget(g, 1)
	if got := s.members[memberKey{g, 1}]; got != held {
		t.Fatalf("after forget, the broker's entry is %p, want the held %p", got, held)
	}
	next := make(chan *memberEntry)
	go func() { e, _ := s.acquire(context.Background(), g, 1); next <- e }()
	for waiting := false; !waiting; runtime.Gosched() {
		s.mu.Lock()
		waiting = held.users == 2
		s.mu.Unlock()
	}
	s.release(held)
	e := <-next
	if e != held || e.m != nil {
		t.Fatalf("next user got entry %p caching %v, want %p caching nothing", e, e.m, held)
	}
	s.release(e)
	if len(s.members) != 0 {
		t.Fatalf("%d entries left caching nothing", len(s.members))
	}
}
