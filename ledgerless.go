// Package ledgerless holds the controller's domain vocabulary: broker groups,
// brokers, their master state and the runtime configuration shared by every
// controller replica. The types carry no JSON, etcd or HTTP concerns; store
// records and API types are translated to and from them at the edges.
package ledgerless

import (
	"fmt"
	"slices"
	"time"
)

// Heartbeat timeout bounds. The floor is etcd's minimum lease TTL with its
// default election timeout; shorter leases would be silently lengthened.
const (
	MinHeartbeatTimeout     = 2 * time.Second
	MaxHeartbeatTimeout     = 600 * time.Second
	DefaultHeartbeatTimeout = 10 * time.Second
)

// GroupKey names a broker group: RocketMQ's clusterName and brokerName.
type GroupKey struct {
	Cluster string
	Group   string
}

func (k GroupKey) String() string { return k.Cluster + "/" + k.Group }

// State is a group's master state. MasterBrokerID 0 means no master.
type State struct {
	MasterBrokerID    int64
	MasterAddress     string // the master's registered address, kept with the state
	MasterEpoch       int64
	SyncStateSet      []int64 // sorted ascending
	SyncStateSetEpoch int64
	NextBrokerID      int64 // the id the next new broker gets; never decreases
	// EpochBase is the masterEpoch the group's life began at: 0, or the
	// last masterEpoch of a removed group of the same name, so that a
	// group created again never reuses an epoch or a broker id.
	EpochBase int64
	// Restored marks a group fenced by a restore from a snapshot: its
	// epochs were raised past anything its brokers can know, it has no
	// master, and it elects only from brokers that reported to the
	// restored state (see election.Decide). The first election clears it.
	Restored bool
}

// NeverElected reports whether the group has had no master since it was
// created: its first alive broker becomes master, whatever the
// SyncStateSet says.
func (s State) NeverElected() bool { return s.MasterEpoch == s.EpochBase }

// InSync reports whether id is a member of the SyncStateSet.
func (s State) InSync(id int64) bool {
	_, found := slices.BinarySearch(s.SyncStateSet, id)
	return found
}

// Equal reports whether s and o are the same state.
func (s State) Equal(o State) bool {
	return s.MasterBrokerID == o.MasterBrokerID && s.MasterAddress == o.MasterAddress &&
		s.MasterEpoch == o.MasterEpoch && slices.Equal(s.SyncStateSet, o.SyncStateSet) &&
		s.SyncStateSetEpoch == o.SyncStateSetEpoch && s.NextBrokerID == o.NextBrokerID && s.EpochBase == o.EpochBase &&
		s.Restored == o.Restored
}

// HeartbeatData is what a broker reports with every heartbeat; it is the
// input of master elections.
type HeartbeatData struct {
	Epoch            int64
	MaxOffset        int64
	ConfirmOffset    int64
	ElectionPriority int64
}

// Advance returns the data that results from recording next over d: data
// only moves forward, to a higher epoch or to a larger maxOffset within the
// same epoch. ok is false when next is older and nothing may be recorded.
func (d HeartbeatData) Advance(next HeartbeatData) (HeartbeatData, bool) {
	if next.Epoch < d.Epoch || (next.Epoch == d.Epoch && next.MaxOffset < d.MaxOffset) {
		return d, false
	}
	return next, true
}

// Broker is one registered member of a group as the controller sees it.
type Broker struct {
	ID               int64
	Address          string
	RegisterCode     string
	HeartbeatTimeout time.Duration
	Alive            bool
	Heartbeat        HeartbeatData
	LastHeartbeat    time.Time // zero when the broker never heartbeat
}

// Group is a group's complete state at one etcd revision. Index is the
// long-poll index: it advances when the state, the membership or any
// broker's liveness changes, not when heartbeat data does.
type Group struct {
	Key     GroupKey
	State   State
	Brokers []Broker // sorted by ID
	Index   int64
	Paused  bool // automatic elections are paused for this group
}

// Broker returns the broker with the given id.
func (g *Group) Broker(id int64) (*Broker, bool) {
	i, found := slices.BinarySearchFunc(g.Brokers, id, func(b Broker, id int64) int {
		switch {
		case b.ID < id:
			return -1
		case b.ID > id:
			return 1
		}
		return 0
	})
	if !found {
		return nil, false
	}
	return &g.Brokers[i], true
}

// Master returns the master broker, if the group has one.
func (g *Group) Master() (*Broker, bool) {
	if g.State.MasterBrokerID == 0 {
		return nil, false
	}
	return g.Broker(g.State.MasterBrokerID)
}

// Role is a broker's role in its group.
type Role string

const (
	RoleMaster Role = "MASTER"
	RoleSlave  Role = "SLAVE"
)

// RoleOf returns the role of broker id under state s.
func RoleOf(s State, id int64) Role {
	if s.MasterBrokerID == id {
		return RoleMaster
	}
	return RoleSlave
}

// RuntimeConfig is the configuration every controller replica shares; it
// lives in etcd and changes at run time.
type RuntimeConfig struct {
	EnableElectUncleanMaster bool
	Paused                   bool
	PausedGroups             []string // "cluster/group", sorted, unique
	DefaultHeartbeatTimeout  time.Duration
}

// DefaultRuntimeConfig is the configuration before anyone changed it.
func DefaultRuntimeConfig() RuntimeConfig {
	return RuntimeConfig{DefaultHeartbeatTimeout: DefaultHeartbeatTimeout}
}

// GroupPaused reports whether automatic elections are paused for k.
func (c RuntimeConfig) GroupPaused(k GroupKey) bool {
	return c.Paused || slices.Contains(c.PausedGroups, k.String())
}

// Validate checks c and normalises PausedGroups.
func (c *RuntimeConfig) Validate() error {
	if err := ValidateHeartbeatTimeout(c.DefaultHeartbeatTimeout); err != nil {
		return fmt.Errorf("defaultHeartbeatTimeoutMs: %w", err)
	}
	for _, name := range c.PausedGroups {
		if _, err := ParseGroupKey(name); err != nil {
			return fmt.Errorf("pausedGroups: %w", err)
		}
	}
	slices.Sort(c.PausedGroups)
	c.PausedGroups = slices.Compact(c.PausedGroups)
	return nil
}

// Replica is one controller replica as registered in etcd.
type Replica struct {
	ID        string
	Address   string
	Version   string
	StartedAt time.Time
	Alive     bool
}

// Reasons for an epoch change, as recorded in the election history.
const (
	ReasonFirstMaster = "first-master"    // the group's first broker came alive
	ReasonMasterLost  = "master-lost"     // the master's lease expired
	ReasonResigned    = "master-resigned" // the master shut down cleanly
	ReasonCrashed     = "master-crashed"  // the master's connection closed and its process was found gone
	ReasonNoMaster    = "no-master"       // a master-less group's candidate came alive
	ReasonAdmin       = "admin"           // an operator asked for an election
	ReasonRestored    = "restored"        // a restore from a snapshot fenced the group
	ReasonImported    = "imported"        // the group was imported from another controller
)

// ElectionReasons returns the reasons an election by a replica records;
// restores and imports change epochs without one.
func ElectionReasons() []string {
	return []string{ReasonFirstMaster, ReasonMasterLost, ReasonResigned, ReasonCrashed, ReasonNoMaster, ReasonAdmin}
}

// FailoverReasons returns the reasons of the elections that replace a
// master whose lease went away, the ones a failover is timed for.
func FailoverReasons() []string { return []string{ReasonMasterLost, ReasonResigned, ReasonCrashed} }

// HistoryEntry records one masterEpoch change of a group.
type HistoryEntry struct {
	MasterEpoch       int64
	Time              time.Time
	Reason            string
	OldMasterBrokerID int64 // 0 when there was none
	NewMasterBrokerID int64 // 0 when the group was left without a master
	Replica           string
}
