package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/auth"
	"github.com/ledgerless/ledgerless/cli"
	"github.com/ledgerless/ledgerless/election"
	"github.com/ledgerless/ledgerless/remoting"
	"github.com/ledgerless/ledgerless/service"
	"github.com/ledgerless/ledgerless/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// replica is a ledgerless replica serving the remoting protocol on
// 127.0.0.1, on the test etcd below its own prefix.
type replica struct {
	svc  *service.Service
	addr string
}

func startReplica(t *testing.T, prefix, id string, opts ...func(*remoting.Options)) *replica {
	t.Helper()
	svc := service.New(service.Options{Store: storetest.Open(t, prefix), ReplicaID: id, Reconcile: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(ctx) }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := remoting.Options{Service: svc, ReplicaID: id, Address: ln.Addr().String()}
	for _, f := range opts {
		f(&o)
	}
	srv := remoting.NewServer(o)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("replica %s: %v", id, err)
		}
	})
	return &replica{svc: svc, addr: ln.Addr().String()}
}

// serveRemoting answers every request on a 127.0.0.1 port with answer.
func serveRemoting(t *testing.T, answer func(req *remoting.Command) *remoting.Command) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				for {
					frame, err := remoting.ReadFrame(r, remoting.MaxFrame)
					if err != nil {
						return
					}
					req, err := remoting.Decode(frame)
					if err != nil {
						return
					}
					resp := answer(req)
					resp.Opaque, resp.Flag = req.Opaque, remoting.FlagResponse
					b, err := remoting.Encode(resp)
					if err != nil {
						t.Errorf("encode: %v", err)
						return
					}
					if _, err := conn.Write(b); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// nameServer answers GET_BROKER_CLUSTER_INFO with clusters, in fastjson's
// form (unquoted numeric keys).
func nameServer(t *testing.T, clusters map[string][]string) string {
	var b strings.Builder
	b.WriteString(`{"brokerAddrTable":{`)
	first := true
	for cluster, names := range clusters {
		for _, n := range names {
			if !first {
				b.WriteString(",")
			}
			first = false
			b.WriteString(`"` + n + `":{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"` + n + `","cluster":"` + cluster + `","enableActingMaster":false}`)
		}
	}
	b.WriteString(`},"clusterAddrTable":`)
	tbl, _ := json.Marshal(clusters)
	b.Write(tbl)
	b.WriteString("}")
	body := []byte(b.String())
	return serveRemoting(t, func(req *remoting.Command) *remoting.Command {
		if req.Code != remoting.GetBrokerClusterInfo {
			return req.Response(remoting.NotSupported, "not a NameServer request")
		}
		resp := req.Response(remoting.Success, "")
		resp.Body = body
		return resp
	})
}

// runCLI runs ledgerless with args and returns its output and exit code.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(testCtx(t))
	if err != nil {
		errb.WriteString("Error: " + err.Error() + "\n")
	}
	return out.String(), errb.String(), cli.ExitCode(err)
}

func etcdArgs(prefix string) []string {
	return []string{"--etcd-endpoints", strings.Join(storetest.Endpoints(), ","), "--etcd-prefix", prefix}
}

// sameGroup reports how got differs from want in what an import keeps:
// ids, addresses, master, epochs, SyncStateSet, next id; and that no
// broker is alive.
func sameGroup(t *testing.T, got, want *ledgerless.Group) {
	t.Helper()
	g, w := got.State, want.State
	if g.MasterBrokerID != w.MasterBrokerID || g.MasterAddress != w.MasterAddress || g.MasterEpoch != w.MasterEpoch ||
		!slices.Equal(g.SyncStateSet, w.SyncStateSet) || g.SyncStateSetEpoch != w.SyncStateSetEpoch || g.NextBrokerID != w.NextBrokerID {
		t.Errorf("%s: imported state %+v, want %+v", want.Key, g, w)
	}
	if len(got.Brokers) != len(want.Brokers) {
		t.Fatalf("%s: imported brokers %+v, want %+v", want.Key, got.Brokers, want.Brokers)
	}
	for i, b := range got.Brokers {
		if b.ID != want.Brokers[i].ID || b.Address != want.Brokers[i].Address || b.Alive {
			t.Errorf("%s: imported broker %+v, want %+v, not alive", want.Key, b, want.Brokers[i])
		}
	}
}

// TestImportFromReplica imports the groups of a ledgerless replica, read
// through its own remoting endpoint with names from a NameServer, into a
// second, fresh store, and checks that ids, epochs, SyncStateSet and
// master came over, that a dry run writes nothing, that importing again is
// refused without --force, and that a broker carries on with its id and
// epoch under a replica of the new store.
func TestImportFromReplica(t *testing.T) {
	ctx := testCtx(t)
	src := startReplica(t, storetest.Prefix(t), "src")
	a := ledgerless.GroupKey{Cluster: "c1", Group: "broker-a"}
	b := ledgerless.GroupKey{Cluster: "c2", Group: "broker-b"}
	for i, addr := range []string{"127.0.0.1:30911", "127.0.0.1:30921", "127.0.0.1:30931"} {
		if _, _, err := src.svc.Register(ctx, a, service.Registration{Address: addr, RegisterCode: "code-" + addr}); err != nil {
			t.Fatalf("register %d: %v", i+1, err)
		}
	}
	if _, _, err := src.svc.Register(ctx, b, service.Registration{Address: "127.0.0.1:40911", RegisterCode: "b1"}); err != nil {
		t.Fatal(err)
	}
	// Broker 3 goes (the next id stays 4, above the highest id left), 2
	// joins the set and becomes master, and takes 1 back into its set.
	if err := src.svc.RemoveBroker(ctx, a, 3, true); err != nil {
		t.Fatal(err)
	}
	alter := func(set ...int64) {
		t.Helper()
		grp, err := src.svc.Group(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.svc.AlterSyncStateSet(ctx, a, election.Alter{MasterBrokerID: grp.State.MasterBrokerID, MasterEpoch: grp.State.MasterEpoch,
			SyncStateSet: set, SyncStateSetEpoch: grp.State.SyncStateSetEpoch}); err != nil {
			t.Fatal(err)
		}
	}
	alter(1, 2)
	if _, err := src.svc.Elect(ctx, a, 2); err != nil {
		t.Fatal(err)
	}
	alter(1, 2)
	ns := nameServer(t, map[string][]string{"c1": {"broker-a", "not-controlled"}, "c2": {"broker-b"}})

	// A dry run prints the plan and writes nothing.
	dry := storetest.Prefix(t)
	out, errs, code := runCLI(t, append([]string{"import", "--rocketmq-controller", src.addr, "--namesrv", ns, "--dry-run"}, etcdArgs(dry)...)...)
	if code != cli.ExitOK || !strings.Contains(out, "c1/broker-a: create") || !strings.Contains(out, "c2/broker-b: create") ||
		!strings.Contains(out, "not-controlled") || !strings.Contains(out, "nothing was written") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errs)
	}
	dryStore := storetest.Open(t, dry)
	if keys, err := dryStore.ListGroups(ctx); err != nil || len(keys) != 0 {
		t.Errorf("after a dry run: groups %v %v, want none", keys, err)
	}
	if _, rev, err := dryStore.ReadConfig(ctx); err != nil || rev != 0 {
		t.Errorf("after a dry run: config revision %d %v, want never written", rev, err)
	}

	dst := storetest.Prefix(t)
	args := append([]string{"import", "--rocketmq-controller", src.addr, "--namesrv", ns}, etcdArgs(dst)...)
	out, errs, code = runCLI(t, args...)
	if code != cli.ExitOK || !strings.Contains(out, "imported 2 groups") || !strings.Contains(errs, "imported 2 of 2 groups") {
		t.Fatalf("import: exit %d\n%s%s", code, out, errs)
	}
	st := storetest.Open(t, dst)
	for _, k := range []ledgerless.GroupKey{a, b} {
		want, err := src.svc.Group(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := st.ReadGroup(ctx, k)
		if err != nil || !snap.Exists() {
			t.Fatalf("%s not imported: %v", k, err)
		}
		sameGroup(t, &snap.Group, want)
		if !snap.Config.GroupPaused(k) {
			t.Errorf("%s is not paused after the import", k)
		}
	}
	if snap, _ := st.ReadGroup(ctx, a); snap.Group.State.NextBrokerID != 4 || snap.Group.State.MasterBrokerID != 2 {
		t.Errorf("broker-a: next id %d master %d, want 4 and 2", snap.Group.State.NextBrokerID, snap.Group.State.MasterBrokerID)
	}

	// Again: refused, nothing changes; with --force: replaced.
	before, _ := st.ReadGroup(ctx, a)
	out, errs, code = runCLI(t, args...)
	if code != cli.ExitRefused || !strings.Contains(out, "refused: the group exists") || !strings.Contains(out, "it is the same as the broker-set") ||
		!strings.Contains(errs, "nothing was written") {
		t.Errorf("import again: exit %d, want %d\n%s%s", code, cli.ExitRefused, out, errs)
	}
	if after, _ := st.ReadGroup(ctx, a); after.Group.Index != before.Group.Index {
		t.Errorf("a refused import changed %s", a)
	}
	out, errs, code = runCLI(t, append(args, "--force", "--broker-name", "broker-a")...)
	if code != cli.ExitOK || !strings.Contains(out, "c1/broker-a: replace the existing group") || strings.Contains(out, "broker-b") {
		t.Errorf("forced import of broker-a: exit %d\n%s%s", code, out, errs)
	}

	// The master of the imported group, a stock broker with its
	// brokerIdentity file, confirms its registration with a replica of the
	// new store, heartbeats, and is the alive master at the same epoch.
	dstReplica := startReplica(t, dst, "dst")
	c, err := remoting.Dial(ctx, dstReplica.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want, _ := src.svc.Group(ctx, a)
	names := remoting.Fields{{Key: "clusterName", Value: a.Cluster}, {Key: "brokerName", Value: a.Group}}
	with := func(kv ...string) remoting.Fields {
		f := slices.Clone(names)
		for i := 0; i < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	call := func(code int, ext remoting.Fields) *remoting.Command {
		t.Helper()
		resp, err := c.Invoke(ctx, remoting.Request(code, ext, nil))
		if err != nil {
			t.Fatalf("%d: %v", code, err)
		}
		return resp
	}
	heartbeat := func(id, addr string) {
		t.Helper()
		beat := with("brokerId", id, "brokerAddr", addr, "heartbeatTimeoutMills", "10000")
		if err := c.Oneway(ctx, remoting.Request(remoting.BrokerHeartbeat, beat, nil)); err != nil {
			t.Fatal(err)
		}
	}
	// The slave comes first: its registration names no master (the
	// imported one is not alive yet), and its own election request fails,
	// because the group is paused: the imported master is not deposed.
	if resp := call(remoting.RegisterBroker, with("brokerId", "1", "brokerAddress", "127.0.0.1:30911")); resp.Code != remoting.Success {
		t.Fatalf("1003 of the imported slave: %+v", resp)
	} else if _, named := resp.Ext.Get("masterBrokerId"); named {
		t.Errorf("1003 names a master that has not heartbeat: %+v", resp.Ext)
	}
	heartbeat("1", "127.0.0.1:30911")
	if resp := call(remoting.ElectMaster, with("brokerId", "1")); resp.Code != 2012 {
		t.Errorf("1002 of the slave before the master heartbeat: %d %s, want 2012", resp.Code, resp.Remark)
	}
	if g, _ := dstReplica.svc.Group(ctx, a); g.State.MasterBrokerID != 2 || g.State.MasterEpoch != want.State.MasterEpoch {
		t.Errorf("before the master heartbeat: %+v, want the imported master and epoch", g.State)
	}
	if resp := call(remoting.RegisterBroker, with("brokerId", "2", "brokerAddress", "127.0.0.1:30921")); resp.Code != remoting.Success {
		t.Fatalf("1003 of the imported master: %+v", resp)
	}
	heartbeat("2", "127.0.0.1:30921")
	for {
		g, err := dstReplica.svc.Group(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if m, ok := g.Master(); ok && m.Alive {
			if m.ID != 2 || g.State.MasterEpoch != want.State.MasterEpoch || g.State.SyncStateSetEpoch != want.State.SyncStateSetEpoch {
				t.Errorf("after the master's heartbeat: %+v, want master 2 at the imported epochs %+v", g.State, want.State)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the imported master never became alive")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Now the slave's election request finds the master alive, at the
	// imported epoch: it follows it as it did under the stock controller.
	resp := call(remoting.ElectMaster, with("brokerId", "1"))
	if epoch, _ := resp.Ext.Int64("masterEpoch"); resp.Code != 2011 || epoch != want.State.MasterEpoch {
		t.Errorf("1002 of the slave after the master heartbeat: %d %+v, want 2011 at masterEpoch %d", resp.Code, resp.Ext, want.State.MasterEpoch)
	}
	if id, _ := resp.Ext.Int64("masterBrokerId"); id != 2 {
		t.Errorf("1002 names master %d, want 2", id)
	}
}

// TestImportRecordedFrames imports from a server that answers 1005, 1006
// and 1012 with what a stock RocketMQ 5.3.3 controller answered
// (remoting/testdata/frames.jsonl, run A after the cleaning of broker 3).
func TestImportRecordedFrames(t *testing.T) {
	ctx := testCtx(t)
	answers := recordedAnswers(t)
	var syncState atomic.Int64 // the seq of the answer to getSyncStateSet -b broker-a
	syncState.Store(608)       // after cleanBrokerMetadata -b 3
	addr := serveRemoting(t, func(req *remoting.Command) *remoting.Command {
		var seq int
		switch req.Code {
		case remoting.GetMetadataInfo:
			seq = 152 // mqadmin getControllerMetaData
		case remoting.GetSyncStateData:
			var names []string
			_ = remoting.DecodeBody(req.Body, &names)
			switch {
			case slices.Equal(names, []string{"broker-a"}):
				seq = int(syncState.Load())
			case slices.Equal(names, []string{"broker-zz"}):
				seq = 524 // an unknown broker-set: {"replicasInfoTable":{}}
			}
		case remoting.GetNextBrokerID:
			switch name, _ := req.Ext.String("brokerName"); name {
			case "broker-a":
				seq = 323 // broker-n2's 1012: nextBrokerId 3
			case "broker-zz":
				seq = 450
			}
		}
		if resp, ok := answers[seq]; ok {
			c := *resp // the caller sets the opaque
			return &c
		}
		return req.Response(remoting.NotSupported, "not recorded")
	})
	prefix := storetest.Prefix(t)
	base := append([]string{"import", "--rocketmq-controller", addr, "--cluster", "DefaultCluster"}, etcdArgs(prefix)...)

	out, errs, code := runCLI(t, append(base, "--broker-name", "broker-zz")...)
	if code != cli.ExitRefused || !strings.Contains(errs, "does not know broker-set broker-zz") {
		t.Errorf("import of an unknown broker-set: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = runCLI(t, append(base, "--broker-name", "broker-a")...)
	if code != cli.ExitOK {
		t.Fatalf("import: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("PLAN\n%s---\n%s", out, errs)
	st := storetest.Open(t, prefix)
	snap, err := st.ReadGroup(ctx, ledgerless.GroupKey{Cluster: "DefaultCluster", Group: "broker-a"})
	if err != nil || !snap.Exists() {
		t.Fatalf("broker-a not imported: %v", err)
	}
	// seq 608: master 1 at 127.0.0.1:30911, masterEpoch 3, brokers 1 and 2
	// in sync, syncStateSetEpoch 8; seq 323: nextBrokerId 3.
	sameGroup(t, &snap.Group, &ledgerless.Group{Key: snap.Group.Key,
		State: ledgerless.State{MasterBrokerID: 1, MasterAddress: "127.0.0.1:30911", MasterEpoch: 3,
			SyncStateSet: []int64{1, 2}, SyncStateSetEpoch: 8, NextBrokerID: 3},
		Brokers: []ledgerless.Broker{{ID: 1, Address: "127.0.0.1:30911"}, {ID: 2, Address: "127.0.0.1:30921"}}})
	for _, b := range snap.Group.Brokers {
		if b.RegisterCode != remoting.ImportedRegisterCode(b.Address) {
			t.Errorf("broker %d: register code %q", b.ID, b.RegisterCode)
		}
	}
	hist, _, err := st.History(ctx, snap.Group.Key, 0, 10)
	if err != nil || len(hist) != 1 || hist[0].Reason != ledgerless.ReasonImported || hist[0].MasterEpoch != 3 {
		t.Errorf("history %+v %v, want one imported entry at epoch 3", hist, err)
	}

	// The controller now answers an older state (seq 294, before two
	// SyncStateSet changes): a forced dry run says how the group differs
	// and writes nothing.
	syncState.Store(294)
	out, errs, code = runCLI(t, append(base, "--broker-name", "broker-a", "--force", "--dry-run")...)
	if code != cli.ExitOK || !strings.Contains(out, "replace the existing group; it differs: syncStateSetEpoch 8 in ledgerless, 6 imported") {
		t.Errorf("forced dry run: exit %d\n%s%s", code, out, errs)
	}
	if after, _ := st.ReadGroup(ctx, snap.Group.Key); after.Group.Index != snap.Group.Index {
		t.Error("a dry run changed the group")
	}
}

// recordedAnswers are the recorded controller answers, decoded, by seq.
func recordedAnswers(t *testing.T) map[int]*remoting.Command {
	t.Helper()
	f, err := os.Open("../../remoting/testdata/frames.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int]*remoting.Command{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct {
			Seq  int    `json:"seq"`
			Kind string `json:"kind"`
			Hex  string `json:"hex"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Kind != "response" {
			continue
		}
		frame, err := hex.DecodeString(r.Hex)
		if err == nil {
			var cmd *remoting.Command
			if cmd, err = remoting.Decode(frame); err == nil {
				out[r.Seq] = cmd
				continue
			}
		}
		t.Fatalf("seq %d: %v", r.Seq, err)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImportSigned: a source that checks RocketMQ ACL signatures (a
// replica with --auth-file) refuses an unsigned import, and answers one
// signed with an admin key.
func TestImportSigned(t *testing.T) {
	file := filepath.Join(t.TempDir(), "credentials.yaml")
	if err := os.WriteFile(file, []byte("accessKeys:\n  - {name: ops, role: admin, accessKey: ops, secretKey: o-secret}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := auth.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	src := startReplica(t, storetest.Prefix(t), "src", func(o *remoting.Options) { o.Auth = remoting.ACL{Auth: a} })
	g := ledgerless.GroupKey{Cluster: "c1", Group: "g1"}
	if _, _, err := src.svc.Register(testCtx(t), g, service.Registration{Address: "127.0.0.1:30911", RegisterCode: "x"}); err != nil {
		t.Fatal(err)
	}
	prefix := storetest.Prefix(t)
	args := append([]string{"import", "--rocketmq-controller", src.addr, "--cluster", "c1", "--broker-name", "g1"}, etcdArgs(prefix)...)
	out, errs, code := runCLI(t, args...)
	if code != cli.ExitRefused || !strings.Contains(errs, "NO_PERMISSION") {
		t.Errorf("unsigned: exit %d\n%s%s", code, out, errs)
	}
	t.Setenv("LEDGERLESS_ROCKETMQ_SECRET_KEY", "o-secret")
	out, errs, code = runCLI(t, append(args, "--access-key", "ops")...)
	if code != cli.ExitOK || !strings.Contains(out, "imported 1 group") {
		t.Errorf("signed: exit %d\n%s%s", code, out, errs)
	}
}
