package handlers_test

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/handlers"
)

func TestLongPoll(t *testing.T) {
	base := newServer(t)
	register(t, base, G, `{"address":"127.0.0.1:10911","registerCode":"code-1"}`)
	before, h := call(t, http.StatusOK, "GET", base+G, "")
	idx := index(t, h)

	// No change: the poll answers at the wait's end with the same group.
	start := time.Now()
	g, h := call(t, http.StatusOK, "GET", base+G+"?index="+strconv.FormatInt(idx, 10)+"&wait=300ms", "")
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("a poll with no change answered after %v, before its 300ms wait", d)
	}
	if n := index(t, h); n != idx {
		t.Errorf("index %d after a poll with no change, want %d", n, idx)
	}
	check(t, g, "brokers", before["brokers"])

	// A change answers the poll at once.
	type result struct {
		status int
		h      http.Header
		body   []byte
		err    error
		took   time.Duration
	}
	res := make(chan result, 1)
	start = time.Now()
	go func() {
		status, h, body, err := try("GET", base+G+"?index="+strconv.FormatInt(idx, 10)+"&wait=5s", "")
		res <- result{status, h, body, err, time.Since(start)}
	}()
	time.Sleep(200 * time.Millisecond)
	register(t, base, G, `{"address":"127.0.0.1:10921","registerCode":"code-2"}`)
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.status != http.StatusOK {
		t.Fatalf("long poll: status %d, body %s", r.status, r.body)
	}
	if r.took >= 4*time.Second {
		t.Errorf("long poll answered after %v; the change should have woken it", r.took)
	}
	if n := index(t, r.h); n <= idx {
		t.Errorf("index %d after a change, want above %d", n, idx)
	}
	if b := groupOf(t, decode(t, r.body)); len(b) != 2 {
		t.Errorf("long poll answered with brokers %v, want 2", b)
	}
}

// TestLongPollsOfOneChangeGetTheSameAnswer has many long polls wait on
// one group through two changes. The polls that one change wakes share
// one encoding of the group: each must get the same body and index as a
// plain read of the group afterwards, and the next change a new one.
func TestLongPollsOfOneChangeGetTheSameAnswer(t *testing.T) {
	base := newServer(t)
	register(t, base, G, `{"address":"127.0.0.1:10911","registerCode":"code-1"}`)
	_, h := call(t, http.StatusOK, "GET", base+G, "")
	idx := index(t, h)
	const polls = 20
	var last []byte
	for change := 1; change <= 2; change++ {
		type answer struct {
			status int
			h      http.Header
			body   []byte
			err    error
		}
		answers := make(chan answer, polls)
		for range polls {
			go func() {
				status, h, body, err := try("GET", base+G+"?index="+strconv.FormatInt(idx, 10)+"&wait=20s", "")
				answers <- answer{status, h, body, err}
			}()
		}
		eventuallyMetric(t, base, polls, "ledgerless_longpoll_waiters")
		register(t, base, G, `{"address":"127.0.0.1:10921","registerCode":"code-`+strconv.Itoa(change+1)+`"}`)
		got := make([]answer, polls)
		for i := range got {
			if got[i] = <-answers; got[i].err != nil || got[i].status != http.StatusOK {
				t.Fatalf("long poll: status %d, %v, body %s", got[i].status, got[i].err, got[i].body)
			}
		}
		// Nothing changes the group between the change and this read.
		status, h, want := do(t, "GET", base+G, "")
		if status != http.StatusOK {
			t.Fatalf("read: status %d, body %s", status, want)
		}
		for _, a := range got {
			if !bytes.Equal(a.body, want) || a.h.Get(handlers.IndexHeader) != h.Get(handlers.IndexHeader) ||
				a.h.Get("Content-Type") != h.Get("Content-Type") {
				t.Fatalf("long poll answered %s %s with index %s; a read answers %s %s with index %s", a.h.Get("Content-Type"), a.body,
					a.h.Get(handlers.IndexHeader), h.Get("Content-Type"), want, h.Get(handlers.IndexHeader))
			}
		}
		if b := groupOf(t, decode(t, want)); len(b) != 1+change || bytes.Equal(want, last) {
			t.Fatalf("after change %d: brokers %v, body %s (before: %s)", change, b, want, last)
		}
		last, idx = want, index(t, h)
	}
}
