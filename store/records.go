package store

import (
	"cmp"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ledgerless/ledgerless"
)

// Record versions. Every record carries its version in "v".
//
// Version 1 is what release v0.1 writes and reads; it refuses any other
// version rather than misread it. Version 2 adds one field, the restore
// fence of a group's state record ("restored"). This release reads both
// and upgrades a version-1 record on reading (the fields version 2 added
// take their zero values: not fenced). It writes each record at the lowest
// version that can hold it: version 1 for everything but the state of a
// group that a restore fenced, which is version 2. So, during a rolling
// upgrade, replicas of v0.1 keep reading every record the new release
// writes, and a fenced group, which v0.1 would misread as an ordinary
// master-less group and elect in at once, is refused by them instead.
const (
	schemaVersion    = 1 // the version of every record that needs no newer one
	minSchemaVersion = 1 // the oldest version read
	maxSchemaVersion = 2 // the newest version read, and written for a fenced state
)

type stateRecord struct {
	V                 int     `json:"v"`
	MasterBrokerID    int64   `json:"masterBrokerId,omitempty"`
	MasterAddress     string  `json:"masterAddress,omitempty"`
	MasterEpoch       int64   `json:"masterEpoch"`
	SyncStateSet      []int64 `json:"syncStateSet"`
	SyncStateSetEpoch int64   `json:"syncStateSetEpoch"`
	NextBrokerID      int64   `json:"nextBrokerId"`
	EpochBase         int64   `json:"epochBase,omitempty"`
	// Removed marks what is left of a removed group: its epochs and next
	// broker id, which the group continues from if it is created again.
	Removed bool `json:"removed,omitempty"`
	// Restored names the restore fence that fenced the group (version 2),
	// or that raised a removed group's epochs (version 1 still: nothing
	// to misread there); empty when none did.
	Restored string `json:"restored,omitempty"`
}

type brokerRecord struct {
	V                  int       `json:"v"`
	Address            string    `json:"address"`
	RegisterCode       string    `json:"registerCode"`
	HeartbeatTimeoutMs int64     `json:"heartbeatTimeoutMs"`
	RegisteredAt       time.Time `json:"registeredAt"`
}

type aliveRecord struct {
	V     int       `json:"v"`
	TTLMs int64     `json:"ttlMs"`
	Since time.Time `json:"since"`
}

type heartbeatRecord struct {
	V                int       `json:"v"`
	Epoch            int64     `json:"epoch"`
	MaxOffset        int64     `json:"maxOffset"`
	ConfirmOffset    int64     `json:"confirmOffset"`
	ElectionPriority int64     `json:"electionPriority"`
	At               time.Time `json:"at"`
}

type configRecord struct {
	V                         int      `json:"v"`
	EnableElectUncleanMaster  bool     `json:"enableElectUncleanMaster"`
	Paused                    bool     `json:"paused"`
	PausedGroups              []string `json:"pausedGroups"`
	DefaultHeartbeatTimeoutMs int64    `json:"defaultHeartbeatTimeoutMs"`
}

type replicaRecord struct {
	V         int       `json:"v"`
	Address   string    `json:"address"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"startedAt"`
}

func encode(rec any) string {
	b, err := json.Marshal(rec)
	if err != nil {
		panic(fmt.Sprintf("encode %T: %v", rec, err)) // records are plain structs
	}
	return string(b)
}

// decode unmarshals a record and checks its schema version.
func decode(key string, data []byte, rec any) error {
	if err := json.Unmarshal(data, rec); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	var v struct {
		V int `json:"v"`
	}
	_ = json.Unmarshal(data, &v)
	if v.V < minSchemaVersion || v.V > maxSchemaVersion {
		return fmt.Errorf("decode %s: schema version %d, want %d to %d (written by a newer release?)", key, v.V, minSchemaVersion, maxSchemaVersion)
	}
	return nil
}

// toStateRecord encodes s; fence names the restore fence of a fenced
// state (the state's own record keeps it from one write to the next).
func toStateRecord(s ledgerless.State, fence string) stateRecord {
	set := s.SyncStateSet
	if set == nil {
		set = []int64{}
	}
	r := stateRecord{V: schemaVersion, MasterBrokerID: s.MasterBrokerID, MasterAddress: s.MasterAddress, MasterEpoch: s.MasterEpoch,
		SyncStateSet: set, SyncStateSetEpoch: s.SyncStateSetEpoch, NextBrokerID: s.NextBrokerID, EpochBase: s.EpochBase}
	if s.Restored {
		r.V, r.Restored = maxSchemaVersion, cmp.Or(fence, "unnamed")
	}
	return r
}

func (r stateRecord) state() ledgerless.State {
	return ledgerless.State{MasterBrokerID: r.MasterBrokerID, MasterAddress: r.MasterAddress, MasterEpoch: r.MasterEpoch,
		SyncStateSet: r.SyncStateSet, SyncStateSetEpoch: r.SyncStateSetEpoch, NextBrokerID: r.NextBrokerID, EpochBase: r.EpochBase,
		Restored: r.Restored != "" && !r.Removed}
}

func toHeartbeatRecord(d ledgerless.HeartbeatData, at time.Time) heartbeatRecord {
	return heartbeatRecord{V: schemaVersion, Epoch: d.Epoch, MaxOffset: d.MaxOffset,
		ConfirmOffset: d.ConfirmOffset, ElectionPriority: d.ElectionPriority, At: at.UTC()}
}

func (r heartbeatRecord) data() ledgerless.HeartbeatData {
	return ledgerless.HeartbeatData{Epoch: r.Epoch, MaxOffset: r.MaxOffset,
		ConfirmOffset: r.ConfirmOffset, ElectionPriority: r.ElectionPriority}
}

func toConfigRecord(c ledgerless.RuntimeConfig) configRecord {
	groups := c.PausedGroups
	if groups == nil {
		groups = []string{}
	}
	return configRecord{V: schemaVersion, EnableElectUncleanMaster: c.EnableElectUncleanMaster,
		Paused: c.Paused, PausedGroups: groups, DefaultHeartbeatTimeoutMs: c.DefaultHeartbeatTimeout.Milliseconds()}
}

func (r configRecord) config() ledgerless.RuntimeConfig {
	return ledgerless.RuntimeConfig{EnableElectUncleanMaster: r.EnableElectUncleanMaster, Paused: r.Paused,
		PausedGroups: r.PausedGroups, DefaultHeartbeatTimeout: time.Duration(r.DefaultHeartbeatTimeoutMs) * time.Millisecond}
}

type historyRecord struct {
	V                 int       `json:"v"`
	MasterEpoch       int64     `json:"masterEpoch"`
	Time              time.Time `json:"time"`
	Reason            string    `json:"reason"`
	OldMasterBrokerID int64     `json:"oldMasterBrokerId"`
	NewMasterBrokerID int64     `json:"newMasterBrokerId"`
	Replica           string    `json:"replica"`
}

func toHistoryRecord(h ledgerless.HistoryEntry) historyRecord {
	return historyRecord{V: schemaVersion, MasterEpoch: h.MasterEpoch, Time: h.Time.UTC(), Reason: h.Reason,
		OldMasterBrokerID: h.OldMasterBrokerID, NewMasterBrokerID: h.NewMasterBrokerID, Replica: h.Replica}
}

func (r historyRecord) entry() ledgerless.HistoryEntry {
	return ledgerless.HistoryEntry{MasterEpoch: r.MasterEpoch, Time: r.Time, Reason: r.Reason,
		OldMasterBrokerID: r.OldMasterBrokerID, NewMasterBrokerID: r.NewMasterBrokerID, Replica: r.Replica}
}
