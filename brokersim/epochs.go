package brokersim

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
