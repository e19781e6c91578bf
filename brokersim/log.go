package brokersim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Entry is one message of a log: the masterEpoch of the master that
// accepted it, its offset (0, 1, 2, ... with no gaps) and its payload.
type Entry struct {
	Epoch   int64  `json:"epoch"`
	Offset  int64  `json:"offset"`
	Payload string `json:"payload"`
}

// EpochStart is a line of the epoch table: the offset at which the log's
// entries of Epoch start, like RocketMQ's epoch file or Kafka's
// leader-epoch cache.
type EpochStart struct {
	Epoch       int64 `json:"epoch"`
	StartOffset int64 `json:"startOffset"`
}

// Table is a log's epoch table and end offset: what two brokers compare
// to find where their logs part.
type Table struct {
	Epochs []EpochStart `json:"epochs"`
	End    int64        `json:"maxOffset"`
}

// endOf is the offset where the entries of the table's i-th epoch end.
func (t Table) endOf(i int) int64 {
	if i+1 < len(t.Epochs) {
		return t.Epochs[i+1].StartOffset
	}
	return t.End
}

// ConsistentOffset is the offset up to which a slave's log holds the same
// entries as its master's: the slave keeps what lies below it and
// truncates the rest. It is found as RocketMQ and Kafka find it: the
// newest epoch both tables hold with the same start offset, where both
// logs agree up to the end of the shorter of the two. Entries at the same
// offset in the same epoch are the same entries, since an epoch has one
// master and a new master starts its epoch at the end of its own log.
func ConsistentOffset(slave, master Table) int64 {
	for i := len(slave.Epochs) - 1; i >= 0; i-- {
		s := slave.Epochs[i]
		for j, m := range master.Epochs {
			if m.Epoch == s.Epoch && m.StartOffset == s.StartOffset {
				return min(slave.endOf(i), master.endOf(j))
			}
		}
	}
	return 0
}

// Log is a broker's message log and its epoch table, in memory and, when
// it has a file, in that file too: one JSON entry a line, written before
// the entry is replicated or acknowledged. The epoch table is rebuilt
// from the entries on opening. A Log is not safe for concurrent use.
type Log struct {
	entries []Entry // entries[i].Offset == i
	epochs  []EpochStart
	file    *os.File // nil: in memory only
	path    string
	fsync   bool
}

// OpenLog opens the log kept in the file at path, or an empty log in
// memory when path is "". A last line torn by a crash is dropped; any
// other damage is an error. fsync makes every append durable before it
// returns, which a process crash does not need.
func OpenLog(path string, fsync bool) (*Log, error) {
	l := &Log{path: path, fsync: fsync}
	if path == "" {
		return l, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open log: %w", err)
	}
	lines := bytes.Split(data, []byte("\n"))
	for n, line := range lines {
		if len(line) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			if n == len(lines)-1 { // torn by a crash in the middle of a write
				break
			}
			return nil, fmt.Errorf("log %s line %d: %w", path, n+1, err)
		}
		if err := l.add(e); err != nil {
			return nil, fmt.Errorf("log %s line %d: %w", path, n+1, err)
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		// A last line torn by a crash, whole or not, is dropped or ended.
		if err := l.rewrite(); err != nil {
			return nil, err
		}
		return l, nil
	}
	if l.file, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return l, nil
}

// End is the offset the next entry gets: the log's maxOffset.
func (l *Log) End() int64 { return int64(len(l.entries)) }

// LastEpoch is the newest epoch of the epoch table, 0 for an empty one.
func (l *Log) LastEpoch() int64 {
	if len(l.epochs) == 0 {
		return 0
	}
	return l.epochs[len(l.epochs)-1].Epoch
}

// Table is the log's epoch table and end.
func (l *Log) Table() Table {
	return Table{Epochs: slices.Clone(l.epochs), End: l.End()}
}

// StartEpoch begins epoch at the log's end, as a new master does before
// it accepts anything.
func (l *Log) StartEpoch(epoch int64) error {
	if epoch == l.LastEpoch() {
		return nil // a master that restarted in its epoch
	}
	if epoch < l.LastEpoch() {
		return fmt.Errorf("start epoch %d: the log is at epoch %d already", epoch, l.LastEpoch())
	}
	l.epochs = append(l.epochs, EpochStart{Epoch: epoch, StartOffset: l.End()})
	return nil
}

// Append adds e at the end of the log; e.Offset must be the end and
// e.Epoch no older than the last epoch.
func (l *Log) Append(e Entry) error {
	if err := l.add(e); err != nil {
		return err
	}
	if l.file == nil {
		return nil
	}
	line, _ := json.Marshal(e)
	if _, err := l.file.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("append to log: %w", err)
	}
	if l.fsync {
		return l.file.Sync()
	}
	return nil
}

// add appends e in memory.
func (l *Log) add(e Entry) error {
	if e.Offset != l.End() {
		return fmt.Errorf("entry at offset %d, the log ends at %d", e.Offset, l.End())
	}
	if e.Epoch < l.LastEpoch() || e.Epoch <= 0 {
		return fmt.Errorf("entry of epoch %d after epoch %d", e.Epoch, l.LastEpoch())
	}
	if e.Epoch > l.LastEpoch() {
		l.epochs = append(l.epochs, EpochStart{Epoch: e.Epoch, StartOffset: e.Offset})
	}
	l.entries = append(l.entries, e)
	return nil
}

// Read returns up to max entries from offset from on.
func (l *Log) Read(from int64, max int) []Entry {
	if from < 0 || from >= l.End() {
		return []Entry{}
	}
	return slices.Clone(l.entries[from:min(l.End(), from+int64(max))])
}

// TruncateTo removes the entries from offset on, and the epochs that
// start there or later, and returns the removed entries.
func (l *Log) TruncateTo(offset int64) ([]Entry, error) {
	if offset < 0 || offset >= l.End() {
		return nil, nil
	}
	removed := slices.Clone(l.entries[offset:])
	l.entries = l.entries[:offset]
	l.epochs = slices.DeleteFunc(l.epochs, func(s EpochStart) bool { return s.StartOffset >= offset })
	return removed, l.rewrite()
}

// rewrite replaces the file with the entries in memory: written aside,
// synced and renamed over the old file, which a crash leaves whole.
func (l *Log) rewrite() error {
	if l.path == "" {
		return nil
	}
	if l.file != nil {
		l.file.Close()
		l.file = nil
	}
	tmp := l.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("rewrite log: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, e := range l.entries {
		line, _ := json.Marshal(e)
		w.Write(append(line, '\n'))
	}
	err = w.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, l.path)
	}
	if err == nil {
		l.file, err = os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND, 0o644)
	}
	if err != nil {
		return fmt.Errorf("rewrite log %s: %w", filepath.Base(l.path), err)
	}
	return nil
}

// Close closes the log's file.
func (l *Log) Close() error {
	if l.file == nil {
		return nil
	}
	err := l.file.Close()
	l.file = nil
	return err
}
