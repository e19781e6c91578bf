package ui_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ledgerless/ledgerless/auth"
	"github.com/ledgerless/ledgerless/client"
	"github.com/ledgerless/ledgerless/server"
	"github.com/ledgerless/ledgerless/server/servertest"
	"github.com/ledgerless/ledgerless/store/storetest"
)

var screenshot = flag.String("screenshot", "", "write a screenshot of the group page, as an admin sees it, to this PNG file")

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

const (
	adminToken  = "dashboard-admin-0123456789"
	readerToken = "dashboard-reader-0123456789"
	brokerToken = "dashboard-broker-0123456789"
)

// chromium finds Debian's chromium. Without it the browser tests skip,
// except under CI, where they fail.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH: apt-get install chromium (.ci/run does)")
	}
	t.Skip("no chromium on PATH: apt-get install chromium to run the browser tests")
	return ""
}

// page is a headless browser tab. When the test fails it leaves a
// screenshot of the tab in a directory it names in the log.
type page struct {
	t   *testing.T
	ctx context.Context
}

func newPage(t *testing.T, chromium string) *page {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium),
		chromedp.NoSandbox, chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1100, 760))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	dir := filepath.Join(os.TempDir(), "ledgerless-ui-"+strings.ReplaceAll(t.Name(), "/", "-"))
	t.Cleanup(func() {
		if t.Failed() {
			sctx, done := context.WithTimeout(ctx, 10*time.Second)
			png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
			done()
			if err == nil {
				err = os.MkdirAll(dir, 0o755)
			}
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, "failure.png"), png, 0o644)
			}
			t.Logf("screenshot of the failure: %s/failure.png (%v)", dir, err)
		}
		cancel()
		cancelAlloc()
	})
	return &page{t: t, ctx: ctx}
}

// run runs browser actions within 15 s, failing the test on error.
func (p *page) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	get(p, what, chromedp.Steps(actions...))
}

// get runs one browser action within 15 s and returns its value.
func get[T any](p *page, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// text reads the text of the first element matching sel, waiting for
// one. It reads in one evaluation: the live views replace their elements
// whenever the group changes.
func (p *page) text(sel string) string {
	p.t.Helper()
	return get(p, "read "+sel, chromedp.Poll[string](fmt.Sprintf(
		`(() => { const e = document.querySelector(%q); return e && e.textContent })()`, sel)))
}

func (p *page) count(sel string) int {
	p.t.Helper()
	return get(p, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
}

// signIn answers the sign-in form with the keyboard alone.
func (p *page) signIn(token string) {
	p.t.Helper()
	p.run("sign in", chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token+"\r"),
		chromedp.WaitVisible(chromedp.CSS("#identity")))
}

// waitMaster waits until the group page shows a master other than not,
// and returns what it shows and how long that took.
func (p *page) waitMaster(not string) (string, time.Duration) {
	p.t.Helper()
	start := time.Now()
	shown := get(p, "wait for a master other than "+not, chromedp.Poll[string](fmt.Sprintf(
		`(() => { const m = document.getElementById("master"); const s = m && m.textContent;
		  return s && s.startsWith("#") && !s.startsWith(%q) ? s : null })()`, not+" "),
		chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	return shown, time.Since(start)
}

// acrossNavigation evaluates expr until it gives a non-empty string,
// through the navigations that make the page unreadable for a moment.
func (p *page) acrossNavigation(what, expr string) string {
	p.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(p.ctx, time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		cancel()
		if err == nil && v != "" {
			return v
		}
	}
	p.t.Fatalf("%s: %s did not hold within 10s", what, expr)
	return ""
}

// phoneWidth checks that at 375 px the page needs no sideways scrolling
// (wide tables scroll inside their own box).
func (p *page) phoneWidth(view string) {
	p.t.Helper()
	p.run("phone width", chromedp.EmulateViewport(375, 700))
	if get(p, "phone width", chromedp.Evaluate[bool]("document.documentElement.scrollWidth > window.innerWidth")) {
		p.t.Errorf("at 375 px the %s is wider than the screen", view)
	}
	p.run("desktop width", chromedp.EmulateViewport(1100, 760))
}

// groupState is the API's view of a group, read as an admin.
type groupState struct {
	MasterBrokerID    *int64 `json:"masterBrokerId"`
	MasterAddress     string `json:"masterAddress"`
	MasterEpoch       int64  `json:"masterEpoch"`
	SyncStateSetEpoch int64  `json:"syncStateSetEpoch"`
	Brokers           []struct {
		BrokerID int64 `json:"brokerId"`
		Alive    bool  `json:"alive"`
	} `json:"brokers"`
}

// runtimeConfig is the API's runtime configuration.
type runtimeConfig struct {
	PausedGroups              []string `json:"pausedGroups"`
	DefaultHeartbeatTimeoutMs int64    `json:"defaultHeartbeatTimeoutMs"`
}

// getJSON reads path of the API as an admin into out.
func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
}

func readGroup(t *testing.T, base string) groupState {
	t.Helper()
	var g groupState
	if getJSON(t, base+"/v1/clusters/c1/groups/g1", &g); g.MasterBrokerID == nil {
		t.Fatalf("the group has no master: %+v", g)
	}
	return g
}

func readConfig(t *testing.T, base string) runtimeConfig {
	t.Helper()
	var c runtimeConfig
	getJSON(t, base+"/v1/config", &c)
	return c
}

// confirm clicks an admin action and confirms it in the dialog.
func (p *page) confirm(what, sel string) {
	p.t.Helper()
	p.run(what, chromedp.WaitEnabled(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)), chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
		chromedp.Click(chromedp.CSS("#confirm-ok")))
}

// unlabelled counts the form controls that have no label.
func (p *page) unlabelled() int {
	p.t.Helper()
	return get(p, "labels", chromedp.Evaluate[int](
		`[...document.querySelectorAll("input, select")].filter((e) => e.labels.length === 0).length`))
}

// brokers runs n brokers of group c1/g1, the first one master with all
// of them in its SyncStateSet, so that any of them can take over.
func brokers(t *testing.T, n int, controllers ...string) []*client.Broker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var out []*client.Broker
	for i := 1; i <= n; i++ {
		// The third broker's log is 300 behind the others'.
		progress := client.Progress{Epoch: 1, MaxOffset: 90000, ConfirmOffset: 89500}
		if i == 3 {
			progress.MaxOffset = 89700
		}
		b, err := client.New(client.Options{Progress: func() client.Progress { return progress }, Controllers: controllers, Cluster: "c1", Group: "g1",
			Address: fmt.Sprintf("127.0.0.1:%d", 10910+i), HeartbeatInterval: 200 * time.Millisecond,
			HeartbeatTimeout: 3 * time.Second, PollWait: 5 * time.Second, Token: brokerToken})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = b.Run(ctx) }()
		for deadline := time.Now().Add(20 * time.Second); b.ID() == 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("broker %d did not register within 20s", i)
			}
		}
		out = append(out, b)
	}
	ids := make([]int64, n)
	for i, b := range out {
		ids[i] = b.ID()
	}
	v := out[0].View()
	if _, err := out[0].AlterSyncStateSet(ctx, v.MasterEpoch, v.SyncStateSetEpoch, ids); err != nil {
		t.Fatalf("master %d: put every broker in the SyncStateSet: %v", out[0].ID(), err)
	}
	return out
}

func byID(bs []*client.Broker, id int64) *client.Broker {
	for _, b := range bs {
		if b.ID() == id {
			return b
		}
	}
	return nil
}

// TestDashboard drives the dashboard in headless chromium against two
// replicas that authenticate their callers, with three brokers in c1/g1.
func TestDashboard(t *testing.T) {
	browser := chromium(t)
	file := filepath.Join(t.TempDir(), "credentials.yaml")
	creds := fmt.Sprintf("tokens:\n  - {name: ops, role: admin, sha256: %s}\n  - {name: viewer, role: reader, sha256: %s}\n"+
		"  - {name: brokers, role: broker, clusters: [c1], sha256: %s}\n",
		auth.HashToken(adminToken), auth.HashToken(readerToken), auth.HashToken(brokerToken))
	if err := os.WriteFile(file, []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	secured := func(c *server.Config) { c.AuthFile, c.AdvertiseURL = file, "http://"+c.Listen }
	prefix := storetest.Prefix(t)
	r1 := servertest.Start(t, prefix, "r1", secured)
	r2 := servertest.Start(t, prefix, "r2", secured)
	bs := brokers(t, 3, r1.URL, r2.URL)
	p := newPage(t, browser)
	groupURL := r1.URL + "/ui/#/g/c1/g1"

	// An unknown token is refused plainly, and so is a broker's token
	// where a broker may not read.
	p.run("open the overview", chromedp.Navigate(r1.URL+"/ui/"))
	p.run("sign in with an unknown token", chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), "not-a-token-0123456789\r"),
		chromedp.WaitVisible(chromedp.CSS("#problem .title")))
	if got := p.text("#problem .title"); got != "Authentication required" {
		t.Errorf("an unknown token shows %q, want the 401 problem's title", got)
	}
	p.signIn(brokerToken)
	p.run("the overview refused", chromedp.WaitVisible(chromedp.CSS("#problem .title")))
	if got := p.text("#problem .title"); got != "Not allowed for this caller" {
		t.Errorf("a broker's token on the overview shows %q, want the 403 problem's title", got)
	}
	p.run("sign out", chromedp.Click(chromedp.CSS("#who button")))

	// A reader sees the group and the overview, at phone width too, and
	// no admin action anywhere.
	p.run("open the group page", chromedp.Navigate(groupURL))
	p.signIn(readerToken)
	first := readGroup(t, r1.URL)
	masterShown := fmt.Sprintf("#%d %s", *first.MasterBrokerID, first.MasterAddress)
	p.run("the group renders", chromedp.WaitVisible(chromedp.CSS("#master")),
		chromedp.WaitVisible(chromedp.CSS(`#brokers tr[data-broker="3"]`)))
	if got := p.text("#master"); got != masterShown {
		t.Fatalf("group page shows master %q, the API %q", got, masterShown)
	}
	if n := p.count(`#history li[data-epoch]`); n == 0 {
		t.Error("the election history shows no election")
	}
	if n := p.count("[data-admin]"); n != 0 {
		t.Errorf("a reader sees %d admin actions on the group page", n)
	}
	p.phoneWidth("group page")
	p.run("overview", chromedp.Navigate(r1.URL+"/ui/#/"), chromedp.WaitVisible(chromedp.CSS(`tr[data-group="c1/g1"]`)))
	if got := p.text(`tr[data-group="c1/g1"] [data-field="master"]`); got != masterShown {
		t.Errorf("overview shows master %q, want %q", got, masterShown)
	}
	p.phoneWidth("overview")
	p.run("controller view", chromedp.Navigate(r1.URL+"/ui/#/controller"),
		chromedp.WaitVisible(chromedp.CSS("#config")))
	if n := p.count("[data-admin]"); n != 0 {
		t.Errorf("a reader sees %d admin actions on the controller page", n)
	}

	// An admin sees the actions.
	p.run("sign out", chromedp.Click(chromedp.CSS("#who button")))
	p.signIn(adminToken)
	p.run("group page as admin", chromedp.Navigate(groupURL), chromedp.WaitVisible(chromedp.CSS(`[data-admin="switchover"]`)))
	for _, action := range []string{"switchover", "pause-group", "clean"} {
		p.run("an admin sees the "+action+" action", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-admin=%q]`, action))))
	}

	// The master killed through the API: it resigns its lease, and the
	// page shows the master the controller elected within a second.
	old := byID(bs, *first.MasterBrokerID)
	if err := old.Resign(context.Background()); err != nil {
		t.Fatal(err)
	}
	shown, took := p.waitMaster(fmt.Sprintf("#%d", old.ID()))
	after := readGroup(t, r1.URL)
	if want := fmt.Sprintf("#%d %s", *after.MasterBrokerID, after.MasterAddress); shown != want || after.MasterEpoch != first.MasterEpoch+1 {
		t.Fatalf("after the master resigned the page shows %q, the API %q at masterEpoch %d (was %d)",
			shown, want, after.MasterEpoch, first.MasterEpoch)
	}
	t.Logf("failover shown %s after the master resigned", took)
	if took > time.Second {
		t.Errorf("the new master showed %s after the failover, want within 1s", took)
	}

	if *screenshot != "" {
		p.run("history shows the failover", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#history li[data-epoch="%d"]`, after.MasterEpoch))))
		png := get(p, "screenshot", chromedp.FullScreenshot(100))
		if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A switchover from the page, to the one alive broker that is not
	// master, once the new master has it back in its SyncStateSet.
	var target int64
	for _, b := range after.Brokers {
		if b.Alive && b.BrokerID != *after.MasterBrokerID {
			target = b.BrokerID
		}
	}
	if _, err := byID(bs, *after.MasterBrokerID).AlterSyncStateSet(context.Background(), after.MasterEpoch,
		after.SyncStateSetEpoch, []int64{*after.MasterBrokerID, target}); err != nil {
		t.Fatalf("master #%d: take #%d back in sync: %v", *after.MasterBrokerID, target, err)
	}
	if picked := get(p, "pick the target", chromedp.Evaluate[string](fmt.Sprintf(
		`(() => { const s = document.getElementById("elect-target"); s.value = "%d"; return s.value })()`, target))); picked != fmt.Sprint(target) {
		t.Fatalf("the switchover offers no broker #%d (picked %q)", target, picked)
	}
	p.run("switch over",
		chromedp.Click(chromedp.CSS(`[data-admin="switchover"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-ok")), chromedp.Click(chromedp.CSS("#confirm-ok")))
	shown, _ = p.waitMaster(fmt.Sprintf("#%d", *after.MasterBrokerID))
	switched := readGroup(t, r1.URL)
	if *switched.MasterBrokerID != target || !strings.HasPrefix(shown, fmt.Sprintf("#%d ", target)) {
		t.Fatalf("switchover to #%d: the API says master #%d, the page %q", target, *switched.MasterBrokerID, shown)
	}
	// A refused action shows the problem's title, and changes nothing:
	// cleaning the living master.
	// The broker rows are drawn again on every change of the group, so
	// the button is found and pressed in one evaluation.
	get(p, "clean the master", chromedp.Poll[bool](fmt.Sprintf(
		`(() => { const b = document.querySelector('tr[data-broker="%d"] [data-admin="clean"]'); b && b.click(); return !!b })()`, target)))
	p.run("confirm the clean", chromedp.WaitVisible(chromedp.CSS("#confirm-ok")), chromedp.Click(chromedp.CSS("#confirm-ok")),
		chromedp.WaitVisible(chromedp.CSS("#problem .title")))
	if got := p.text("#problem .title"); got != "Cannot clean broker metadata" {
		t.Errorf("refused clean shows %q, want the problem's title", got)
	}
	if g := readGroup(t, r1.URL); *g.MasterBrokerID != target || len(g.Brokers) != 3 {
		t.Errorf("a refused clean changed the group: %+v", g)
	}

	// Pause and resume the group from the page.
	if n := p.unlabelled(); n != 0 {
		t.Errorf("the group page has %d form controls without a label", n)
	}
	for _, want := range []struct {
		button string
		paused []string
	}{{"Resume this group", []string{"c1/g1"}}, {"Pause this group", []string{}}} {
		p.confirm("pause or resume", `[data-admin="pause-group"]`)
		get(p, "wait for "+want.button, chromedp.Poll[bool](fmt.Sprintf(
			`document.querySelector('[data-admin="pause-group"]').textContent === %q`, want.button)))
		if got := readConfig(t, r1.URL).PausedGroups; strings.Join(got, ",") != strings.Join(want.paused, ",") {
			t.Errorf("after the page offers %q, pausedGroups is %v, want %v", want.button, got, want.paused)
		}
	}

	// Edit the runtime configuration; a value the controller refuses shows
	// the problem's title and changes nothing.
	p.run("controller view as admin", chromedp.Navigate(r1.URL+"/ui/#/controller"), chromedp.WaitVisible(chromedp.CSS("#cfg-timeout")))
	if n := p.unlabelled(); n != 0 {
		t.Errorf("the controller page has %d form controls without a label", n)
	}
	for _, c := range []struct {
		value, refusal string
		want           int64
	}{{"15000", "", 15000}, {"100", "Invalid request", 15000}} {
		get(p, "set the timeout", chromedp.Evaluate[string](fmt.Sprintf(`document.getElementById("cfg-timeout").value = %q`, c.value)))
		p.confirm("save the configuration", `[data-admin="config"]`)
		if c.refusal != "" {
			p.run("the refusal", chromedp.WaitVisible(chromedp.CSS("#problem .title")))
			if got := p.text("#problem .title"); got != c.refusal {
				t.Errorf("defaultHeartbeatTimeoutMs %s shows %q, want %q", c.value, got, c.refusal)
			}
		} else {
			get(p, "saved", chromedp.Poll[bool](fmt.Sprintf(
				`document.getElementById("cfg-timeout") && document.getElementById("cfg-timeout").value === %q && document.getElementById("status").textContent.includes("done")`, c.value)))
		}
		if got := readConfig(t, r1.URL).DefaultHeartbeatTimeoutMs; got != c.want {
			t.Errorf("after saving %s the timeout is %d, want %d", c.value, got, c.want)
		}
	}

	// The page's replica stops: the page says so and moves to the other.
	p.run("back to the group", chromedp.Navigate(groupURL), chromedp.WaitVisible(chromedp.CSS("#master")))
	r1.Stop()
	moved := p.acrossNavigation("move to the other replica", fmt.Sprintf(
		`location.origin === %q && document.readyState === "complete" ? document.getElementById("status").textContent : ""`, r2.URL))
	if !strings.Contains(moved, "Moved here from replica r1") {
		t.Errorf("after r1 stopped, the page on r2 says %q", moved)
	}
	p.signIn(adminToken)
	p.run("the group on r2", chromedp.Navigate(r2.URL+"/ui/#/g/c1/g1"), chromedp.WaitVisible(chromedp.CSS("#master")))
	if got := p.text("#identity"); !strings.Contains(got, "replica r2") {
		t.Errorf("after the move the page names %q", got)
	}
}
