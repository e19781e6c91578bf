// Package brokersim is a simulated RocketMQ broker: it keeps a message
// log with an epoch table, replicates it from master to slaves over HTTP
// the way RocketMQ's master/slave HA does, and talks to a ledgerless
// controller only through the broker SDK (package client). As master it
// acknowledges a message only once every SyncStateSet member has it
// (RocketMQ's allAckInSyncStateSet), shrinks the SyncStateSet when a
// slave lags and expands it when the slave catches up; as slave it
// truncates its log to where it parts from the new master's, never below
// what it knows was acknowledged. It exists to test failover end to end:
// no acknowledged message may be lost. Producer sends numbered messages
// to whichever broker is master and records the acknowledged ones.
package brokersim

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/client"
)

// Protocols a broker speaks to its controller.
const (
	// ProtocolREST is ledgerless's REST API, through the broker SDK.
	ProtocolREST = "rest"
	// ProtocolRocketMQ is RocketMQ's remoting protocol, as a stock
	// 5.1.1+ broker in controller mode speaks it (package stock).
	ProtocolRocketMQ = "rocketmq"
)

// Config is a simulated broker's configuration.
type Config struct {
	// Protocol is ProtocolREST (the default) or ProtocolRocketMQ. With
	// RocketMQ's, Controllers are host:port addresses (controllerAddr),
	// the identity is kept in DataDir's brokerIdentity files, and the
	// Listen port also takes the controller's NOTIFY.
	Protocol string
	// RocketMQ are the settings only a stock broker has.
	RocketMQ RocketMQ
	// Listen is the HTTP address of the broker's API and replication.
	Listen string
	// Advertise is the address the broker registers, host:port
	// (default: Listen).
	Advertise string
	// Controllers are the controller replicas' base URLs.
	Controllers []string
	// Cluster and Group name the broker's group.
	Cluster, Group string
	// DataDir keeps the log (log.jsonl) and the identity
	// (identity.json); empty: both live in memory, and every start is
	// a new broker with an empty log.
	DataDir string
	// Fsync syncs every append to disk; without it a process crash
	// loses nothing, a machine crash may.
	Fsync bool
	// HeartbeatInterval and HeartbeatTimeout are the SDK's (defaults
	// 1 s and 10 s).
	HeartbeatInterval, HeartbeatTimeout time.Duration
	// ElectionPriority: lower is preferred in elections.
	ElectionPriority int64
	// LagMax is how long a SyncStateSet member may go without having
	// caught up before the master takes it out (default 3 s;
	// haMaxTimeSlaveNotCatchup).
	LagMax time.Duration
	// ShrinkEvery is how often a master looks for members to take out of
	// its SyncStateSet (checkSyncStateSetPeriod; default: at every
	// review, every 200 ms). Members that caught up join at once.
	ShrinkEvery time.Duration
	// AckTimeout is how long a produce waits for the SyncStateSet
	// (default 5 s); without every acknowledgement by then it fails.
	AckTimeout time.Duration
	// LeaseFencing makes a master refuse writes once
	// client.Broker.MasterLeaseRemaining is 0 (see its trade-off).
	LeaseFencing bool
	// ShutdownTimeout bounds a graceful shutdown (default 8 s).
	ShutdownTimeout time.Duration
	// TokenFile holds the token that authenticates the broker to a
	// controller that wants one (the SDK's TokenFile).
	TokenFile string
	// TLS is what the SDK needs to reach https controllers: their CA, the
	// broker's client certificate.
	TLS client.TLS
	// HTTP is the client for the controller and for replication
	// (default: one of the SDK's own, and http.DefaultTransport).
	HTTP *http.Client
	// TracerProvider records the SDK's spans of calls to the controller;
	// default: the global one.
	TracerProvider trace.TracerProvider
	// Logger receives the broker's log; default: none.
	Logger *slog.Logger
}

// RocketMQ are a stock broker's settings that REST brokers lack, by
// their BrokerConfig names; zero is stock's default.
type RocketMQ struct {
	SyncBrokerMetadataPeriod     time.Duration // the 1004 poll, 5 s
	SyncControllerMetadataPeriod time.Duration // the 1005 refresh, 10 s
}

// Defaults of Config.
const (
	DefaultLagMax          = 3 * time.Second
	DefaultAckTimeout      = 5 * time.Second
	DefaultShutdownTimeout = 8 * time.Second
)

// Validate checks c and fills in the defaults.
func (c *Config) Validate() error {
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		return fmt.Errorf("listen %q: want host:port", c.Listen)
	}
	if c.Advertise == "" {
		c.Advertise = c.Listen
	}
	if err := ledgerless.ValidateAddress(c.Advertise); err != nil {
		return fmt.Errorf("advertise: %w", err)
	}
	if len(c.Controllers) == 0 {
		return errors.New("at least one controller URL is required")
	}
	switch c.Protocol {
	case "":
		c.Protocol = ProtocolREST
	case ProtocolREST:
	case ProtocolRocketMQ:
		if c.LeaseFencing {
			return errors.New("lease fencing needs acknowledged heartbeats; RocketMQ's are oneway")
		}
		if c.TokenFile != "" || c.TLS != (client.TLS{}) {
			return errors.New("a token file and controller TLS are REST settings; RocketMQ's protocol has neither here")
		}
		for _, a := range c.Controllers {
			if _, port, err := net.SplitHostPort(a); err != nil || port == "" || strings.Contains(a, "/") {
				return fmt.Errorf("controller %q: RocketMQ's protocol wants host:port", a)
			}
		}
	default:
		return fmt.Errorf("protocol %q: want %s or %s", c.Protocol, ProtocolREST, ProtocolRocketMQ)
	}
	if err := (ledgerless.GroupKey{Cluster: c.Cluster, Group: c.Group}).Validate(); err != nil {
		return err
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&c.LagMax, DefaultLagMax}, {&c.ShrinkEvery, maintainEvery}, {&c.AckTimeout, DefaultAckTimeout}, {&c.ShutdownTimeout, DefaultShutdownTimeout}} {
		if *d.v == 0 {
			*d.v = d.def
		}
		if *d.v < 0 {
			return fmt.Errorf("durations must be positive, not %s", *d.v)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func (c *Config) logPath() string      { return c.dataFile("log.jsonl") }
func (c *Config) identityPath() string { return c.dataFile("identity.json") }

func (c *Config) dataFile(name string) string {
	if c.DataDir == "" {
		return ""
	}
	return filepath.Join(c.DataDir, name)
}
