package service

import (
	"fmt"
	"slices"
	"time"

	"github.com/ledgerless/ledgerless"
)

// Input checks that every front end applies before it calls a use case.
// Their errors are ledgerless.ErrInvalidRequest, with a message that names
// the offending field as the API spells it.

// HeartbeatTimeout checks a heartbeat timeout in milliseconds against
// etcd's lease floor and the ceiling, and returns it as a duration.
func HeartbeatTimeout(ms int64) (time.Duration, error) {
	if ms < ledgerless.MinHeartbeatTimeout.Milliseconds() || ms > ledgerless.MaxHeartbeatTimeout.Milliseconds() {
		return 0, ledgerless.Invalid("heartbeatTimeoutMs must be 2000-600000")
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// SyncStateSet normalises a proposed SyncStateSet: sorted, each id a
// distinct positive broker id.
func SyncStateSet(ids []int64) ([]int64, error) {
	set := slices.Sorted(slices.Values(ids))
	for i, id := range set {
		if id <= 0 || (i > 0 && set[i-1] == id) {
			return nil, ledgerless.Invalid("syncStateSet must list distinct positive broker ids")
		}
	}
	return set, nil
}

// BrokerID checks a broker id named by a request: a positive integer.
func BrokerID(id int64) error {
	if id <= 0 {
		return ledgerless.Invalid("brokerId must be a positive integer")
	}
	return nil
}

// MaxHistoryLimit is the most election history entries one page holds.
const MaxHistoryLimit = 1000

// HistoryPage checks a page of election history: before a masterEpoch
// (0: from the newest), at most limit entries, 1 to MaxHistoryLimit.
func HistoryPage(before int64, limit int) error {
	if limit < 1 || limit > MaxHistoryLimit {
		return ledgerless.Invalid(fmt.Sprintf("limit must be from 1 to %d", MaxHistoryLimit))
	}
	if before < 0 {
		return ledgerless.Invalid("before must not be negative")
	}
	return nil
}
