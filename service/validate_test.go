package service_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/service"
)

func TestInputChecks(t *testing.T) {
	if d, err := service.HeartbeatTimeout(10000); err != nil || d != 10*time.Second {
		t.Errorf("10000 ms: %v %v", d, err)
	}
	for _, ms := range []int64{1999, 600001, -1} {
		if _, err := service.HeartbeatTimeout(ms); !errors.Is(err, ledgerless.ErrInvalidRequest) {
			t.Errorf("%d ms accepted: %v", ms, err)
		}
	}
	if set, err := service.SyncStateSet([]int64{3, 1, 2}); err != nil || !slices.Equal(set, []int64{1, 2, 3}) {
		t.Errorf("normalised: %v %v", set, err)
	}
	for _, bad := range [][]int64{{1, 1}, {0}, {-2, 3}} {
		if _, err := service.SyncStateSet(bad); !errors.Is(err, ledgerless.ErrInvalidRequest) {
			t.Errorf("%v accepted", bad)
		}
	}
	if service.BrokerID(0) == nil || service.BrokerID(1) != nil {
		t.Error("BrokerID")
	}
}
