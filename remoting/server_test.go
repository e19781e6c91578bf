package remoting

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/store/storetest"
	"github.com/ledgerless/ledgerless/tracing"
)

func rawConn(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn, bufio.NewReader(conn)
}

func send(t *testing.T, conn net.Conn, c *Command) {
	t.Helper()
	frame, err := Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(frame); err != nil {
		t.Fatal(err)
	}
}

func receive(t *testing.T, r *bufio.Reader) *Command {
	t.Helper()
	frame, err := ReadFrame(r, MaxFrame)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestServerFraming: the opaque is echoed with the response flag, a
// oneway request is never answered, and an unknown code is refused as a
// stock controller refuses it.
func TestServerFraming(t *testing.T) {
	c := startController(t, storetest.Prefix(t), "r1")
	conn, r := rawConn(t, c.addr)
	send(t, conn, &Command{Code: GetMetadataInfo, Opaque: 41, Flag: FlagOneway})
	send(t, conn, &Command{Code: GetMetadataInfo, Opaque: 42, Serialize: RocketMQ})
	send(t, conn, &Command{Code: GetBrokerEpochCache, Opaque: 43})
	first := receive(t, r)
	if first.Opaque != 42 || first.Flag != FlagResponse || first.Code != Success {
		t.Fatalf("first answer %+v: want the answer to opaque 42 (41 was oneway)", first)
	}
	if v, _ := first.Ext.Get("controllerLeaderAddress"); v != c.addr {
		t.Errorf("controllerLeaderAddress %q, want %q", v, c.addr)
	}
	if v, _ := first.Ext.Get("isLeader"); v != "true" {
		t.Errorf("isLeader %q", v)
	}
	second := receive(t, r)
	if second.Opaque != 43 || second.Code != NotSupported || second.Remark != " request type 1007 not supported" {
		t.Errorf("unknown code answered %+v", second)
	}
}

// TestServerBadFrames: bytes that are no frame, or a frame over the
// limit, close that connection and no other.
func TestServerBadFrames(t *testing.T) {
	c := startController(t, storetest.Prefix(t), "r1")
	good, gr := rawConn(t, c.addr)
	for name, bad := range map[string][]byte{
		"text":      []byte("hello, controller\r\n\r\n"),
		"too large": binary.BigEndian.AppendUint32(nil, MaxFrame+1),
		"short":     {0, 0, 0, 2, 0, 0},
		"bad json":  append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 7), 3), '{', 'x', '}'),
		"bad type":  append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 6), 7<<24|2), '{', '}'),
	} {
		conn, r := rawConn(t, c.addr)
		if _, err := conn.Write(bad); err != nil {
			t.Fatal(err)
		}
		if name == "short" {
			_ = conn.(*net.TCPConn).CloseWrite()
		}
		if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
			t.Errorf("%s: connection not closed: %v", name, err)
		}
		send(t, good, &Command{Code: GetMetadataInfo, Opaque: 7})
		if got := receive(t, gr); got.Opaque != 7 || got.Code != Success {
			t.Errorf("%s: the other connection got %+v", name, got)
		}
	}
}

// TestServerBadInput: missing and ill-typed fields get an error answer
// and change nothing.
func TestServerBadInput(t *testing.T) {
	c := startController(t, storetest.Prefix(t), "r1")
	cl := dial(t, c.addr)
	g := ledgerless.GroupKey{Cluster: "c1", Group: "g1"}
	for _, req := range []*Command{
		Request(ApplyBrokerID, Fields{{"clusterName", "c1"}, {"brokerName", "g1"}, {"appliedBrokerId", "x"}}, nil),
		Request(ApplyBrokerID, Fields{{"clusterName", "c1"}, {"brokerName", "g1"}, {"appliedBrokerId", "1"}}, nil),
		Request(ApplyBrokerID, Fields{{"clusterName", "c/1"}, {"brokerName", "g1"}, {"appliedBrokerId", "1"}, {"registerCheckCode", "1.2.3.4:5;6"}}, nil),
		Request(ApplyBrokerID, Fields{{"clusterName", "c1"}, {"brokerName", "g1"}, {"appliedBrokerId", "1"}, {"registerCheckCode", "nohost;6"}}, nil),
		Request(RegisterBroker, Fields{{"brokerName", "g1"}, {"brokerId", "1"}}, nil),
		Request(AlterSyncStateSet, Fields{{"brokerName", "g1"}, {"masterBrokerId", "1"}, {"masterEpoch", "1"}}, []byte("[1,")),
		Request(ElectMaster, Fields{{"clusterName", "c1"}, {"brokerName", "g1"}, {"brokerId", "zz"}}, nil),
		Request(GetSyncStateData, nil, []byte("{")),
		Request(UpdateControllerConfig, nil, []byte("enableElectUncleanMaster=maybe\n")),
		Request(UpdateControllerConfig, nil, []byte("defaultHeartbeatTimeoutMs=5\n")),
		Request(CleanBrokerData, Fields{{"clusterName", "c1"}, {"brokerName", "g1"}, {"brokerControllerIdsToClean", "1;x"}}, nil),
	} {
		resp := invoke(t, cl, req)
		if resp.Code == Success {
			t.Errorf("%d %v %q: answered SUCCESS", req.Code, req.Ext, req.Body)
		}
	}
	if _, err := c.svc.Group(context.Background(), g); !errors.Is(err, ledgerless.ErrBrokerMetadataNotExist) {
		t.Errorf("bad input created the group: %v", err)
	}
	cfg, err := c.svc.Config(context.Background())
	if err != nil || cfg.EnableElectUncleanMaster || cfg.DefaultHeartbeatTimeout != ledgerless.DefaultHeartbeatTimeout {
		t.Errorf("bad input changed the config: %+v %v", cfg, err)
	}
}

type recordingObserver struct {
	mu       sync.Mutex
	requests map[[2]string]int
	auth     map[string]int
}

func (o *recordingObserver) RemotingRequest(code, outcome string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests[[2]string{code, outcome}]++
}

func (o *recordingObserver) AuthFailure(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.auth[reason]++
}

func (o *recordingObserver) count(code, outcome string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.requests[[2]string{code, outcome}]
}

// TestServerObservability: every request is a span named by its code,
// with the group and broker attributes REST's spans carry, and a metric
// by code and outcome.
func TestServerObservability(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	obs := &recordingObserver{requests: map[[2]string]int{}, auth: map[string]int{}}
	c := startController(t, storetest.Prefix(t), "r1", func(o *Options) { o.TracerProvider, o.Observer = tp, obs })
	cl := dial(t, c.addr)
	invoke(t, cl, Request(GetReplicaInfo, Fields{{"brokerName", "nope"}}, nil))
	invoke(t, cl, Request(GetNextBrokerID, Fields{{"clusterName", "c1"}, {"brokerName", "g1"}}, nil))
	if n := obs.count("CONTROLLER_GET_REPLICA_INFO", "CONTROLLER_BROKER_METADATA_NOT_EXIST"); n != 1 {
		t.Errorf("1004 counted %d times as METADATA_NOT_EXIST", n)
	}
	if n := obs.count("CONTROLLER_GET_NEXT_BROKER_ID", "SUCCESS"); n != 1 {
		t.Errorf("1012 counted %d times as SUCCESS", n)
	}
	found := false
	for _, s := range rec.Ended() {
		if s.Name() != "rocketmq CONTROLLER_GET_NEXT_BROKER_ID" {
			continue
		}
		found = true
		attrs := map[string]string{}
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.Emit()
		}
		if attrs[string(tracing.Cluster)] != "c1" || attrs[string(tracing.Group)] != "g1" || attrs["rpc.system"] != "rocketmq" {
			t.Errorf("span attributes %v", attrs)
		}
	}
	if !found {
		t.Error("no span for 1012")
	}
}

// TestUnavailableIsSystemBusy: a replica that cannot reach etcd (here its
// store is closed, as while it shuts down) answers SYSTEM_BUSY, as a
// stock controller does while it cannot serve, never SYSTEM_ERROR: the
// broker tries again, or another controller.
func TestUnavailableIsSystemBusy(t *testing.T) {
	c := startController(t, storetest.Prefix(t), "r1")
	cl := dial(t, c.addr)
	id := startBroker(t, cl, "127.0.0.1:10911")
	c.store.Close()
	for _, req := range []*Command{
		Request(GetReplicaInfo, Fields{{"clusterName", "c1"}, {"brokerName", "g1"}}, nil),
		Request(GetSyncStateData, nil, []byte(`["g1"]`)),
		Request(RegisterBroker, Fields{{"clusterName", "c1"}, {"brokerName", "g1"}, {"brokerId", fmt.Sprint(id)},
			{"brokerAddress", "127.0.0.1:10911"}}, nil),
	} {
		if resp := invoke(t, cl, req); resp.Code != SystemBusy {
			t.Errorf("%s with etcd unavailable: %s %q, want SYSTEM_BUSY", RequestName(req.Code), ResponseName(resp.Code), resp.Remark)
		}
	}
}
