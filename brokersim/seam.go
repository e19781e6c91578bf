package brokersim

import (
	"context"
	"time"

	"github.com/ledgerless/ledgerless/brokersim/stock"
	"github.com/ledgerless/ledgerless/client"
)

// controller is the broker's side of the controller protocol: the REST
// SDK (client.Broker) or a stock RocketMQ broker's client (stock.Broker).
// The log, its replication, acknowledgements and truncation know only
// this.
type controller interface {
	// Run registers the broker and keeps it alive until ctx ends.
	Run(ctx context.Context) error
	// ID is the broker's id, 0 until registered.
	ID() int64
	// View is the newest master state known.
	View() client.View
	// RoleChanges delivers each higher masterEpoch to act on.
	RoleChanges() <-chan client.View
	// MasterLeaseRemaining is how long the controller surely keeps the
	// broker alive (0 when the protocol cannot tell).
	MasterLeaseRemaining() time.Duration
	// Refresh reads the group's master state from the controller; a
	// higher masterEpoch arrives as a role change.
	Refresh(ctx context.Context) (client.View, error)
	// AlterSyncStateSet asks, as master, for a new SyncStateSet.
	AlterSyncStateSet(ctx context.Context, masterEpoch, syncStateSetEpoch int64, set []int64) (client.SyncState, error)
	// Resign ends the broker's membership on a clean shutdown.
	Resign(ctx context.Context) error
}

// restController is the REST SDK as a controller.
type restController struct{ *client.Broker }

func (r restController) Refresh(ctx context.Context) (client.View, error) {
	if _, err := r.Group(ctx); err != nil {
		return client.View{}, err
	}
	return r.View(), nil
}

var (
	_ controller = restController{}
	_ controller = (*stock.Broker)(nil)
)
