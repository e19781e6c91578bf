package brokersim

import "testing"

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
