package brokersim

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func appendAll(t *testing.T, l *Log, entries ...Entry) {
	t.Helper()
	for _, e := range entries {
		if err := l.Append(e); err != nil {
			t.Fatalf("append %+v: %v", e, err)
		}
	}
}

func TestLogAppendAndTruncate(t *testing.T) {
	l, err := OpenLog("", false)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, Entry{1, 0, "a"}, Entry{1, 1, "b"}, Entry{3, 2, "c"})
	for _, bad := range []Entry{{3, 2, "gap"}, {3, 9, "gap"}, {2, 3, "older epoch"}, {0, 3, "no epoch"}} {
		if err := l.Append(bad); err == nil {
			t.Errorf("append %+v: no error", bad)
		}
	}
	if err := l.StartEpoch(2); err == nil {
		t.Error("started epoch 2 after epoch 3")
	}
	if err := l.StartEpoch(3); err != nil {
		t.Errorf("a master restarted in epoch 3: %v", err)
	}
	if err := l.StartEpoch(5); err != nil {
		t.Fatal(err)
	}
	want := table(3, 1, 0, 3, 2, 5, 3)
	if got := l.Table(); !slices.Equal(got.Epochs, want.Epochs) || got.End != 3 || l.LastEpoch() != 5 {
		t.Fatalf("table %+v, want %+v", got, want)
	}
	if got := l.Read(1, 10); len(got) != 2 || got[0].Payload != "b" {
		t.Errorf("read from 1: %+v", got)
	}
	if got := l.Read(3, 10); len(got) != 0 {
		t.Errorf("read from the end: %+v", got)
	}
	removed, err := l.TruncateTo(1)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 || removed[0].Payload != "b" || removed[1].Payload != "c" {
		t.Errorf("removed %+v", removed)
	}
	if got := l.Table(); !slices.Equal(got.Epochs, table(0, 1, 0).Epochs) || got.End != 1 {
		t.Errorf("table after truncating to 1: %+v", got)
	}
	if removed, _ := l.TruncateTo(1); removed != nil {
		t.Errorf("truncating at the end removed %+v", removed)
	}
}

func TestLogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	l, err := OpenLog(path, true)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, Entry{1, 0, "a"}, Entry{2, 1, "b"}, Entry{2, 2, "c"}, Entry{4, 3, "d"})
	if _, err := l.TruncateTo(3); err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, Entry{5, 3, "e"})
	l.Close()

	// A crash in the middle of an append leaves a torn last line.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"epoch":5,"offs`)
	f.Close()
	l, err = OpenLog(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Table(); got.End != 4 || !slices.Equal(got.Epochs, table(0, 1, 0, 2, 1, 5, 3).Epochs) {
		t.Errorf("reopened table %+v", got)
	}
	if got := l.Read(0, 10); got[3].Payload != "e" {
		t.Errorf("reopened entries %+v", got)
	}
	appendAll(t, l, Entry{5, 4, "f"}) // after the torn line was dropped
	l.Close()
	if data, _ := os.ReadFile(path); strings.Count(string(data), "\n") != 5 || strings.Contains(string(data), `"offs`+"\n") {
		t.Errorf("file after reopening:\n%s", data)
	}

	// A last entry written whole but for its newline is kept and ended,
	// so that the next append starts a line of its own.
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:len(data)-1], 0o644)
	if l, err = OpenLog(path, false); err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, Entry{5, 5, "g"})
	l.Close()
	if l, err = OpenLog(path, false); err != nil {
		t.Fatalf("after an unended last line: %v", err)
	}
	if got := l.Read(0, 10); len(got) != 6 || got[4].Payload != "f" || got[5].Payload != "g" {
		t.Errorf("after an unended last line: %+v", got)
	}
	l.Close()

	// Damage anywhere else is an error, not a silent loss.
	os.WriteFile(path, []byte("{\"epoch\":1,\"offset\":0,\"payload\":\"a\"}\nnot json\n{\"epoch\":1,\"offset\":1,\"payload\":\"b\"}\n"), 0o644)
	if _, err := OpenLog(path, false); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("damaged log: %v", err)
	}
}

func table(end int64, epochStarts ...int64) Table {
	t := Table{End: end}
	for i := 0; i < len(epochStarts); i += 2 {
		t.Epochs = append(t.Epochs, EpochStart{Epoch: epochStarts[i], StartOffset: epochStarts[i+1]})
	}
	return t
}

func TestConsistentOffset(t *testing.T) {
	for _, tc := range []struct {
		name          string
		slave, master Table
		want          int64
	}{
		{"empty slave", table(0), table(90, 1, 0), 0},
		{"same log", table(90, 1, 0, 2, 40), table(90, 1, 0, 2, 40), 90},
		{"slave behind in the same epoch", table(60, 1, 0, 2, 40), table(90, 1, 0, 2, 40), 60},
		{"slave behind an older epoch", table(30, 1, 0), table(90, 1, 0, 3, 50), 30},
		{"slave ahead of the new master's start", table(80, 1, 0), table(100, 1, 0, 2, 70), 70},
		{"slave holds an epoch the master lacks", table(60, 1, 0, 2, 40), table(90, 1, 0, 3, 40), 40},
		{"two failovers the slave missed", table(75, 1, 0, 2, 40, 3, 60), table(90, 1, 0, 2, 40, 4, 50), 50},
		{"master's epoch without entries", table(55, 1, 0), table(60, 1, 0, 2, 50, 3, 50), 50},
		{"nothing in common", table(10, 2, 0), table(90, 1, 0, 3, 5), 0},
		{"same epoch at another offset is not trusted", table(60, 1, 0, 2, 45), table(90, 1, 0, 2, 40), 40},
	} {
		if got := ConsistentOffset(tc.slave, tc.master); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
