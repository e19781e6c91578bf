// Package stock is the controller client of a stock RocketMQ 5.1.1+
// broker in controller mode, as ReplicasManager and BrokerOuterAPI are:
// it keeps the broker's id in the brokerIdentity files, starts up through
// INITIAL → RUNNING with stock retry timings (1005 against every
// available controller address, then 1012/1013/1003, and 1002 when no
// master is known), sends oneway heartbeats (904) to every controller
// address, polls 1004, reports SyncStateSet changes (1001) and takes
// NOTIFY_BROKER_ROLE_CHANGED (1008) on the broker's listen port. It
// offers brokersim what the REST SDK (package client) does, in the SDK's
// own types, so that a simulated broker can be either kind.
package stock

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/client"
)

// Options configure a Broker. The names are those of RocketMQ's
// BrokerConfig and MessageStoreConfig; the defaults are stock's.
type Options struct {
	// ControllerAddr are the controllers' host:port addresses
	// (controllerAddr, ";"-separated in broker.conf).
	ControllerAddr []string
	// BrokerClusterName and BrokerName name the broker's group.
	BrokerClusterName, BrokerName string
	// BrokerAddr is brokerIP1:listenPort, the address the broker
	// registers and where NOTIFY reaches it.
	BrokerAddr string
	// StorePathRootDir keeps the identity files brokerIdentity and
	// brokerIdentity-temp; empty: the identity lives in memory, and every
	// start is a new broker.
	StorePathRootDir string
	// BrokerHeartbeatInterval is the time between heartbeats (1 s).
	BrokerHeartbeatInterval time.Duration
	// ControllerHeartBeatTimeoutMills is the broker's lease, sent with
	// every heartbeat (10 s).
	ControllerHeartBeatTimeoutMills time.Duration
	// SendHeartbeatTimeoutMillis bounds sending one heartbeat (1 s).
	SendHeartbeatTimeoutMillis time.Duration
	// SyncBrokerMetadataPeriod is the period of the 1004 poll (5 s).
	SyncBrokerMetadataPeriod time.Duration
	// SyncControllerMetadataPeriod is the period of the 1005 refresh of
	// the leader's address (10 s).
	SyncControllerMetadataPeriod time.Duration
	// BrokerElectionPriority: lower is preferred (stock's default is
	// DefaultElectionPriority; 0 here is 0).
	BrokerElectionPriority int64
	// Progress reports the broker's log position for each heartbeat.
	Progress func() client.Progress
	// Logger receives the broker's log; default: none.
	Logger *slog.Logger
}

// DefaultElectionPriority is stock's brokerElectionPriority,
// Integer.MAX_VALUE.
const DefaultElectionPriority = math.MaxInt32

// Stock timings that BrokerConfig does not name (ReplicasManager,
// NettyClientConfig).
const (
	rpcTimeout       = 3 * time.Second // every sync call, and the connect timeout
	scanEvery        = 3 * time.Second // scanAvailableControllerAddresses
	startRetryEvery  = 5 * time.Second // RETRY_INTERVAL_SECOND of startBasicService
	metadataTries    = 3               // updateControllerMetadata at start, 1 s apart
	registerTries    = 5               // register at start, a random pause below 1 s apart
	firstPollAfter   = 3 * time.Second
	firstBeatAfter   = time.Second
	firstSyncAfter   = 3 * time.Second // the periodic 1005
	reregisterPause  = 2 * time.Second // after 2008 from a poll
	identityFileName = "brokerIdentity"
)

func (o *Options) setDefaults() error {
	if len(o.ControllerAddr) == 0 {
		return errors.New("controllerAddr: at least one controller address is required")
	}
	if err := (ledgerless.GroupKey{Cluster: o.BrokerClusterName, Group: o.BrokerName}).Validate(); err != nil {
		return err
	}
	if err := ledgerless.ValidateAddress(o.BrokerAddr); err != nil {
		return fmt.Errorf("broker address: %w", err)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"brokerHeartbeatInterval", &o.BrokerHeartbeatInterval, time.Second},
		{"controllerHeartBeatTimeoutMills", &o.ControllerHeartBeatTimeoutMills, 10 * time.Second},
		{"sendHeartbeatTimeoutMillis", &o.SendHeartbeatTimeoutMillis, time.Second},
		{"syncBrokerMetadataPeriod", &o.SyncBrokerMetadataPeriod, 5 * time.Second},
		{"syncControllerMetadataPeriod", &o.SyncControllerMetadataPeriod, 10 * time.Second},
	} {
		if *d.v == 0 {
			*d.v = d.def
		}
		if *d.v < 0 {
			return fmt.Errorf("%s must be positive, not %s", d.name, *d.v)
		}
	}
	if err := ledgerless.ValidateHeartbeatTimeout(o.ControllerHeartBeatTimeoutMills); err != nil {
		return fmt.Errorf("controllerHeartBeatTimeoutMills: %w", err)
	}
	if o.Progress == nil {
		o.Progress = func() client.Progress { return client.Progress{} }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
