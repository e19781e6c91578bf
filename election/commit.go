package election

import (
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store"
)

// Apply adds decision d to txn: the new state st (d.Next, plus whatever
// else the caller's transaction changes), the history record of the epoch
// change, and a compare that the new master is still alive under the lease
// it had in the snapshot, unless the transaction itself makes it alive
// (aliveInTxn). The caller commits; the transaction's compare on the
// group's state revision makes each election happen once, whichever
// replica commits it. Apply returns the history entry.
func Apply(txn *store.Txn, g ledgerless.Group, d Decision, st ledgerless.State, replica string, now time.Time, aliveInTxn int64) ledgerless.HistoryEntry {
	txn.PutState(st)
	if st.MasterBrokerID != 0 && st.MasterBrokerID != aliveInTxn {
		txn.RequireAlive(st.MasterBrokerID)
	}
	h := ledgerless.HistoryEntry{
		MasterEpoch:       st.MasterEpoch,
		Time:              now,
		Reason:            d.Reason,
		OldMasterBrokerID: g.State.MasterBrokerID,
		NewMasterBrokerID: st.MasterBrokerID,
		Replica:           replica,
	}
	txn.AppendHistory(h)
	return h
}
