package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ledgerless/ledgerless/remoting"
)

// RocketMQHeartbeat compares the heartbeats of RocketMQ-protocol
// brokers, each a oneway 904 sent to one replica or to all three (as a
// stock broker sends it to every controllerAddr), with the raw etcd
// client's Put+KeepAliveOnce, at the same broker count and rate: one
// heartbeat per broker per second, for Duration.
type RocketMQHeartbeat struct {
	Brokers  int
	Duration time.Duration
	Runs     []RocketMQRun // 1 replica, 3 replicas, raw etcd
}

// RocketMQRun is one system's figures.
type RocketMQRun struct {
	System   string
	Replicas int     // that each heartbeat reaches; 0 for raw etcd
	Rate     float64 // broker heartbeats per second
	// PerBrokerSecond is etcd's work and the servers' CPU divided by the
	// broker-seconds measured (brokers × seconds): at one heartbeat a
	// second, per heartbeat of a broker, however many replicas it reaches.
	PerBrokerSecond Cost
	Errors          int
}

// The systems of the RocketMQ comparison.
const (
	sysRocketMQ1 = "ledgerless, 904 to 1 replica"
	sysRocketMQ3 = "ledgerless, 904 to 3 replicas"
)

// rmqBroker is one RocketMQ-protocol broker of the comparison: its id
// and a connection to each replica, as a stock broker keeps one channel
// per controller.
type rmqBroker struct {
	ext    remoting.Fields
	conns  []*remoting.Client
	offset atomic.Int64
}

// rocketmqHeartbeats registers RocketMQBrokers brokers over RocketMQ's
// protocol (1012, 1013, 1003: the stock start-up), three per group, and
// measures their heartbeats to three replicas and to one, then the raw
// client at the same rate.
func (r *runner) rocketmqHeartbeats(ctx context.Context) (*RocketMQHeartbeat, error) {
	ctls, err := r.replicas(ctx)
	if err != nil {
		return nil, err
	}
	n := r.cfg.RocketMQBrokers
	out := &RocketMQHeartbeat{Brokers: n, Duration: r.cfg.Steady}
	r.step("rocketmq heartbeat: registering %s brokers (%s groups) by 1012, 1013 and 1003, each connected to %d replicas",
		count(float64(n)), count(float64((n+2)/3)), len(ctls))
	brokers, err := registerRocketMQ(ctx, ctls, n)
	defer func() {
		for _, b := range brokers {
			for _, c := range b.conns {
				if c != nil {
					_ = c.Close()
				}
			}
		}
	}()
	if err != nil {
		return nil, err
	}
	for _, reach := range []int{3, 1} {
		name := sysRocketMQ3
		if reach == 1 {
			name = sysRocketMQ1
		}
		sys := system{name: name, beat: func(ctx context.Context, i int) error { return brokers[i].beat(ctx, reach) }}
		run, err := r.rocketmqRun(ctx, ctls, sys, n, true)
		if err != nil {
			return nil, err
		}
		run.Replicas = reach
		out.Runs = append(out.Runs, run)
	}
	raw, err := newRawAt(r.ctl.etcd, n, rawPrefix+"rocketmq/")
	if err != nil {
		return nil, err
	}
	defer raw.close()
	if err := raw.grant(ctx, n, 64, steadyTimeout); err != nil {
		return nil, err
	}
	run, err := r.rocketmqRun(ctx, ctls, system{name: sysRawLease, beat: raw.putWithLease}, n, false)
	if err != nil {
		return nil, err
	}
	out.Runs = append(out.Runs, run)
	return out, nil
}

// rocketmqRun sends a heartbeat of each of n brokers a second through
// sys for Steady (after up to a heartbeat timeout of the same to settle,
// when warm) and reads etcd's work and every replica's CPU.
func (r *runner) rocketmqRun(ctx context.Context, ctls []*controller, sys system, n int, warm bool) (RocketMQRun, error) {
	if warm {
		// A heartbeat timeout, within which every replica that receives
		// them has seen each broker's heartbeats (short runs settle less).
		settle := min(steadyTimeout, 2*r.cfg.Steady)
		r.step("rocketmq heartbeat: %s: %s to settle", sys.name, settle)
		paced(ctx, sys, n, 16, steadyInterval, settle)
	}
	before, err := scrapeAll(ctx, ctls)
	if err != nil {
		return RocketMQRun{}, err
	}
	r.step("rocketmq heartbeat: %s: a heartbeat per broker every %s for %s", sys.name, steadyInterval, r.cfg.Steady)
	c0 := selfCPU()
	res := paced(ctx, sys, n, 16, steadyInterval, r.cfg.Steady)
	client := selfCPU() - c0
	time.Sleep(200 * time.Millisecond) // the last oneway heartbeats are handled
	after, err := scrapeAll(ctx, ctls)
	if err != nil {
		return RocketMQRun{}, err
	}
	if res.ops == 0 {
		return RocketMQRun{}, fmt.Errorf("%s: no heartbeat was sent: %w", sys.name, res.err)
	}
	brokerSeconds := float64(n) * res.elapsed.Seconds()
	c := costOf(before, after, brokerSeconds)
	c.ClientCPU = client / brokerSeconds
	run := RocketMQRun{System: sys.name, Rate: res.throughput(), PerBrokerSecond: c, Errors: res.errs}
	r.step("rocketmq heartbeat: %s: %s heartbeats/s; per broker-second %.3f etcd txns, %.3f keys written, %.3f lease renewals",
		sys.name, count(run.Rate), c.Txns, c.Puts, c.Renewals)
	return run, nil
}

// scrapeAll reads etcd's metrics and the replicas' CPU in one sample:
// etcd's counters, and server_cpu, the CPU seconds of every replica
// (the first with its embedded etcd).
func scrapeAll(ctx context.Context, ctls []*controller) (metrics, error) {
	m, err := ctls[0].etcdMetrics(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range ctls {
		cm, err := c.metrics(ctx)
		if err != nil {
			return nil, err
		}
		m["server_cpu"] += cm.sum("process_cpu_seconds_total")
	}
	return m, nil
}

// registerRocketMQ starts n RocketMQ-protocol brokers as a stock broker
// starts: an id asked for (1012) and claimed (1013), the registration
// confirmed (1003), all from the first replica (which names itself the
// leader), in passes of one broker per group; then it connects each to
// every replica.
func registerRocketMQ(ctx context.Context, ctls []*controller, n int) ([]*rmqBroker, error) {
	brokers := make([]*rmqBroker, n)
	reg, err := remoting.Dial(ctx, ctls[0].remotingAddr())
	if err != nil {
		return brokers, err
	}
	defer reg.Close()
	call := func(ctx context.Context, code int, ext remoting.Fields) (*remoting.Command, error) {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second) // stock's
		defer cancel()
		resp, err := reg.Invoke(ctx, remoting.Request(code, ext, nil))
		if err == nil && resp.Code != remoting.Success {
			err = fmt.Errorf("%s: %s (%d): %s", remoting.RequestName(code), remoting.ResponseName(resp.Code), resp.Code, resp.Remark)
		}
		return resp, err
	}
	for m := range 3 {
		err := forEach(ctx, 0, (n+2)/3, 64, func(ctx context.Context, grp int) error {
			i := 3*grp + m
			if i >= n {
				return nil
			}
			// NOTIFYs of elections go to the broker's address: 127.0.0.1:9,
			// where nothing listens.
			names := remoting.Fields{{Key: "clusterName", Value: "rocketmq-hb"}, {Key: "brokerName", Value: fmt.Sprintf("g%05d", grp)}}
			resp, err := call(ctx, remoting.GetNextBrokerID, names)
			if err != nil {
				return err
			}
			id, ok := resp.Ext.Int64("nextBrokerId")
			if !ok {
				return fmt.Errorf("1012 answered no nextBrokerId")
			}
			ext := append(remoting.Fields{}, names...)
			ext.SetInt64("appliedBrokerId", id)
			ext.Set("registerCheckCode", "127.0.0.1:9;"+strconv.Itoa(i))
			if _, err := call(ctx, remoting.ApplyBrokerID, ext); err != nil {
				return err
			}
			ext = append(remoting.Fields{}, names...)
			ext.SetInt64("brokerId", id)
			ext.Set("brokerAddress", "127.0.0.1:9")
			if _, err := call(ctx, remoting.RegisterBroker, ext); err != nil {
				return err
			}
			hb := remoting.Fields{{Key: "clusterName", Value: "rocketmq-hb"}, {Key: "brokerAddr", Value: "127.0.0.1:9"},
				{Key: "brokerName", Value: fmt.Sprintf("g%05d", grp)}}
			hb.SetInt64("brokerId", id)
			brokers[i] = &rmqBroker{ext: hb}
			return nil
		})
		if err != nil {
			return brokers, fmt.Errorf("register rocketmq brokers: %w", err)
		}
	}
	err = forEach(ctx, 0, n, 64, func(ctx context.Context, i int) error {
		for _, c := range ctls {
			cl, err := remoting.Dial(ctx, c.remotingAddr())
			if err != nil {
				return err
			}
			brokers[i].conns = append(brokers[i].conns, cl)
		}
		return nil
	})
	return brokers, err
}

// beat sends the broker's heartbeat (oneway 904, stock's header, a larger
// maxOffset each time) to its first reach replicas.
func (b *rmqBroker) beat(ctx context.Context, reach int) error {
	off := b.offset.Add(1)
	for _, c := range b.conns[:reach] {
		ext := append(remoting.Fields{}, b.ext...)
		ext.SetInt64("epoch", 1)
		ext.SetInt64("maxOffset", off)
		ext.SetInt64("confirmOffset", off)
		ext.SetInt64("heartbeatTimeoutMills", steadyTimeout.Milliseconds())
		ext.SetInt64("electionPriority", 0)
		if err := c.Oneway(ctx, remoting.Request(remoting.BrokerHeartbeat, ext, nil)); err != nil {
			return err
		}
	}
	return nil
}
