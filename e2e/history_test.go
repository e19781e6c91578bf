package e2e

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/brokersim"
)

// controllerSource names the controller's view among the sources of
// observations.
const controllerSource = "controller"

// observation is what one source said about a group at one moment: the
// controller (through a long poll on the group), or a broker (through its
// GET /status).
type observation struct {
	At           time.Time
	Group        string
	Source       string          // controllerSource or the broker's name
	Broker       int64           // the broker's id; 0 for the controller
	Role         ledgerless.Role // the broker's role; "" for the controller
	Epoch        int64           // masterEpoch
	Master       int64           // the master's id; 0: none
	SyncStateSet []int64
}

func (o observation) String() string {
	who := o.Source
	if o.Broker != 0 {
		who = fmt.Sprintf("%s (broker %d, %s)", o.Source, o.Broker, o.Role)
	}
	return fmt.Sprintf("%s %s %s: masterEpoch %d master %d syncStateSet %v",
		o.At.Format("15:04:05.000"), o.Group, who, o.Epoch, o.Master, o.SyncStateSet)
}

// same reports whether o says what p said.
func (o observation) same(p observation) bool {
	return o.Broker == p.Broker && o.Role == p.Role && o.Epoch == p.Epoch && o.Master == p.Master &&
		slices.Equal(o.SyncStateSet, p.SyncStateSet)
}

// brokerLog is one broker's log at the end of a scenario.
type brokerLog struct {
	group, source string
	entries       []brokersim.Entry
}

// history is what a scenario recorded and collected.
type history struct {
	observations []observation
	acks         map[string][]brokersim.Ack   // per group: what the producer had acknowledged
	logs         []brokerLog                  // the logs that must hold every acknowledged message
	truncated    map[string][]brokersim.Entry // per group: what any broker truncated
}

// violations checks the SPEC's safety properties over h and describes
// each violation:
//   - at most one master per group and masterEpoch, whoever tells;
//   - masterEpochs never decrease, as each source tells them;
//   - the master is in its SyncStateSet;
//   - every acknowledged message is in every log given, at its offset and
//     epoch, and no broker ever truncated one.
func (h *history) violations() []string {
	var out []string
	type groupEpoch struct {
		group string
		epoch int64
	}
	masters := map[groupEpoch]map[int64][]observation{}
	addMaster := func(o observation, id int64) {
		k := groupEpoch{o.Group, o.Epoch}
		if masters[k] == nil {
			masters[k] = map[int64][]observation{}
		}
		masters[k][id] = append(masters[k][id], o)
	}
	lastEpoch := map[string]observation{}
	for _, o := range h.observations {
		if o.Master != 0 {
			addMaster(o, o.Master)
		}
		if o.Role == ledgerless.RoleMaster {
			addMaster(o, o.Broker)
			if !slices.Contains(o.SyncStateSet, o.Broker) {
				out = append(out, "master outside its SyncStateSet: "+o.String())
			}
		}
		if o.Source == controllerSource && o.Master != 0 && !slices.Contains(o.SyncStateSet, o.Master) {
			out = append(out, "master outside its SyncStateSet: "+o.String())
		}
		key := o.Group + "/" + o.Source
		if prev, ok := lastEpoch[key]; ok && o.Epoch < prev.Epoch {
			out = append(out, fmt.Sprintf("masterEpoch went down: %s, after %s", o, prev))
		}
		lastEpoch[key] = o
	}
	for k, ids := range masters {
		if len(ids) > 1 {
			var says []string
			for _, obs := range ids {
				says = append(says, obs[0].String())
			}
			sort.Strings(says)
			out = append(out, fmt.Sprintf("%d masters in %s at masterEpoch %d: %v", len(ids), k.group, k.epoch, says))
		}
	}
	for _, l := range h.logs {
		for _, a := range h.acks[l.group] {
			want := brokersim.Entry{Epoch: a.Epoch, Offset: a.Offset, Payload: a.Payload}
			if a.Offset >= int64(len(l.entries)) || l.entries[a.Offset] != want {
				out = append(out, fmt.Sprintf("acknowledged %s (epoch %d, offset %d) missing from %s's log", a.Payload, a.Epoch, a.Offset, l.source))
			}
		}
	}
	for group, acks := range h.acks {
		for _, a := range acks {
			if slices.Contains(h.truncated[group], brokersim.Entry{Epoch: a.Epoch, Offset: a.Offset, Payload: a.Payload}) {
				out = append(out, fmt.Sprintf("acknowledged %s (epoch %d, offset %d) was truncated", a.Payload, a.Epoch, a.Offset))
			}
		}
	}
	sort.Strings(out)
	return out
}

// recorder keeps the observations of a scenario, each when it differs
// from its source's previous one.
type recorder struct {
	mu   sync.Mutex
	obs  []observation
	last map[string]observation
}

func newRecorder() *recorder { return &recorder{last: map[string]observation{}} }

func (r *recorder) add(o observation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := o.Group + "/" + o.Source
	if prev, ok := r.last[key]; ok && prev.same(o) {
		return
	}
	r.last[key] = o
	r.obs = append(r.obs, o)
}

// since returns the observations recorded at t or later.
func (r *recorder) since(t time.Time) []observation {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []observation
	for _, o := range r.obs {
		if !o.At.Before(t) {
			out = append(out, o)
		}
	}
	return out
}
