package brokersim

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ledgerless/ledgerless/remoting"
)

// ReadBrokerConf reads a stock broker's broker.conf (java.util.Properties
// text) into c, for a broker of ProtocolRocketMQ; see ApplyBrokerConf.
func ReadBrokerConf(path string, c *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	p, err := remoting.ParseProperties(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := ApplyBrokerConf(p, c); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// ApplyBrokerConf sets what a stock broker's settings say, by RocketMQ's
// names, and makes c a broker of ProtocolRocketMQ:
//
//	brokerClusterName, brokerName        Cluster, Group
//	controllerAddr (";"-separated)       Controllers
//	listenPort, brokerIP1                the port of Listen and Advertise, the host of Advertise
//	storePathRootDir                     DataDir (the log and the brokerIdentity files)
//	brokerHeartbeatInterval              HeartbeatInterval (ms)
//	controllerHeartBeatTimeoutMills      HeartbeatTimeout (ms)
//	syncBrokerMetadataPeriod             RocketMQ.SyncBrokerMetadataPeriod (ms)
//	syncControllerMetadataPeriod         RocketMQ.SyncControllerMetadataPeriod (ms)
//	checkSyncStateSetPeriod              ShrinkEvery (ms)
//	haMaxTimeSlaveNotCatchup             LagMax (ms)
//	brokerElectionPriority               ElectionPriority
//
// Keys it does not name are a stock broker's other settings and are left
// alone, except enableControllerMode, which must not be false.
func ApplyBrokerConf(p remoting.Properties, c *Config) error {
	c.Protocol = ProtocolRocketMQ
	if v, ok := p.Get("enableControllerMode"); ok && !strings.EqualFold(strings.TrimSpace(v), "true") {
		return fmt.Errorf("enableControllerMode=%s: brokersim is a broker in controller mode", v)
	}
	str := func(key string, dst *string) {
		if v, ok := p.Get(key); ok {
			*dst = strings.TrimSpace(v)
		}
	}
	str("brokerClusterName", &c.Cluster)
	str("brokerName", &c.Group)
	str("storePathRootDir", &c.DataDir)
	if v, ok := p.Get("controllerAddr"); ok {
		c.Controllers = nil
		for _, a := range strings.Split(v, ";") {
			if a = strings.TrimSpace(a); a != "" {
				c.Controllers = append(c.Controllers, a)
			}
		}
	}
	for _, d := range []struct {
		key string
		dst *time.Duration
	}{
		{"brokerHeartbeatInterval", &c.HeartbeatInterval},
		{"controllerHeartBeatTimeoutMills", &c.HeartbeatTimeout},
		{"syncBrokerMetadataPeriod", &c.RocketMQ.SyncBrokerMetadataPeriod},
		{"syncControllerMetadataPeriod", &c.RocketMQ.SyncControllerMetadataPeriod},
		{"checkSyncStateSetPeriod", &c.ShrinkEvery},
		{"haMaxTimeSlaveNotCatchup", &c.LagMax},
	} {
		v, ok := p.Get(d.key)
		if !ok {
			continue
		}
		ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || ms <= 0 {
			return fmt.Errorf("%s=%s: want a positive number of milliseconds", d.key, v)
		}
		*d.dst = time.Duration(ms) * time.Millisecond
	}
	if v, ok := p.Get("brokerElectionPriority"); ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return fmt.Errorf("brokerElectionPriority=%s: want an integer", v)
		}
		c.ElectionPriority = n
	}
	port, hasPort := p.Get("listenPort")
	ip, hasIP := p.Get("brokerIP1")
	port, ip = strings.TrimSpace(port), strings.TrimSpace(ip)
	if hasPort {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("listenPort=%s: want a port number", port)
		}
		host, _, err := net.SplitHostPort(c.Listen)
		if err != nil {
			host = ""
		}
		c.Listen = net.JoinHostPort(host, port)
	}
	if hasIP || hasPort {
		if !hasIP || ip == "" {
			ip, _, _ = net.SplitHostPort(c.Advertise)
			if ip == "" {
				ip, _, _ = net.SplitHostPort(c.Listen)
			}
		}
		if !hasPort {
			_, port, _ = net.SplitHostPort(c.Listen)
		}
		c.Advertise = net.JoinHostPort(ip, port)
	}
	return nil
}
