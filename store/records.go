package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ledgerless/ledgerless"
)

// schemaVersion is written into every record. A record of another version
// is refused rather than misread; a future version migrates explicitly.
const schemaVersion = 1

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
	if v.V != schemaVersion {
		return fmt.Errorf("decode %s: schema version %d, want %d", key, v.V, schemaVersion)
	}
	return nil
}

func toStateRecord(s ledgerless.State) stateRecord {
	set := s.SyncStateSet
	if set == nil {
		set = []int64{}
	}
	return stateRecord{V: schemaVersion, MasterBrokerID: s.MasterBrokerID, MasterAddress: s.MasterAddress, MasterEpoch: s.MasterEpoch,
		SyncStateSet: set, SyncStateSetEpoch: s.SyncStateSetEpoch, NextBrokerID: s.NextBrokerID, EpochBase: s.EpochBase}
}

func (r stateRecord) state() ledgerless.State {
	return ledgerless.State{MasterBrokerID: r.MasterBrokerID, MasterAddress: r.MasterAddress, MasterEpoch: r.MasterEpoch,
		SyncStateSet: r.SyncStateSet, SyncStateSetEpoch: r.SyncStateSetEpoch, NextBrokerID: r.NextBrokerID, EpochBase: r.EpochBase}
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
