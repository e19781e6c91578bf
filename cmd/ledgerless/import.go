package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/cli"
	"github.com/ledgerless/ledgerless/remoting"
	"github.com/ledgerless/ledgerless/store"
)

// importOptions are the flags of ledgerless import.
type importOptions struct {
	src     remoting.ImportSource
	etcd    store.ClientConfig
	dryRun  bool
	force   bool
	pause   bool
	replica string
	timeout time.Duration
	// accessKey and secretKey sign the remoting requests (RocketMQ ACL).
	accessKey, secretKey string
}

func newImport() *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import --rocketmq-controller HOST:PORT [--namesrv HOST:PORT | --cluster NAME --broker-name NAME...]",
		Short: "Import the broker-sets of a stock RocketMQ controller into ledgerless's etcd",
		Long: `Import the broker-sets of a stock RocketMQ 5.1.1+ controller, so that its
brokers keep their ids and epochs when their controllerAddr moves to
ledgerless (docs/day2.md, "Import from RocketMQ's controller").

It reads, over RocketMQ's remoting protocol, the controller's leader (1005),
the broker names of every cluster from the NameServer (106) or from
--cluster and --broker-name, each broker-set's brokers, master, masterEpoch,
SyncStateSet and syncStateSetEpoch (1006) and its next broker id (1012).
It writes each broker-set as a group into etcd, in one transaction per
group: ids, addresses, epochs, SyncStateSet and master are kept, and the
next broker id is above every imported id. Liveness is not imported: a
broker is alive once it heartbeats to a replica.

A group that exists in ledgerless is refused unless --force replaces it;
nothing is written when any group is refused. --dry-run prints the plan
and writes nothing; it exits as the import would.

With --pause (the default) the imported groups are paused: no automatic
election deposes an imported master before it heartbeats to ledgerless.
Resume each group (ledgerless resume CLUSTER GROUP) once its brokers report.`,
		Example: `  # every broker-set the NameServer lists, into a replica's embedded etcd
  ledgerless import --rocketmq-controller 10.0.0.5:9878 --namesrv 10.0.0.5:9876 --dry-run
  ledgerless import --rocketmq-controller 10.0.0.5:9878 --namesrv 10.0.0.5:9876

  # two broker-sets by name, into an external etcd
  ledgerless import --rocketmq-controller 10.0.0.5:9878 --cluster DefaultCluster \
    --broker-name broker-a --broker-name broker-b --etcd-endpoints http://etcd1:2379`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return &cli.Error{Class: cli.Usage, Err: fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath())}
			}
			if o.accessKey != "" {
				secret := cmp.Or(o.secretKey, os.Getenv("LEDGERLESS_ROCKETMQ_SECRET_KEY"))
				o.src.Sign = func(c *remoting.Command) { remoting.Sign(c, o.accessKey, secret) }
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
			defer cancel()
			return runImport(ctx, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.src.Controller, "rocketmq-controller", "", "host:port of a node of the stock RocketMQ controller (required)")
	f.StringVar(&o.src.NameServer, "namesrv", "", "host:port of a NameServer, whose cluster info lists the broker names")
	f.StringVar(&o.src.Cluster, "cluster", "", "the cluster of the --broker-name names; with --namesrv, only this cluster")
	f.StringArrayVar(&o.src.Names, "broker-name", nil, "a broker name (broker-set) to import; repeat for more (default: every name the NameServer lists)")
	f.DurationVar(&o.src.Timeout, "request-timeout", 3*time.Second, "time limit of each remoting request")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan and write nothing")
	f.BoolVar(&o.force, "force", false, "replace groups that exist in ledgerless")
	f.BoolVar(&o.pause, "pause", true, "pause the imported groups' automatic elections until resumed")
	f.StringVar(&o.replica, "replica-id", "rocketmq-import", "name recorded in the groups' election history")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "time limit of the whole import")
	f.StringVar(&o.accessKey, "access-key", "", "sign the remoting requests with this RocketMQ ACL access key (a source that checks signatures)")
	f.StringVar(&o.secretKey, "secret-key", "", "the access key's secret (default: $LEDGERLESS_ROCKETMQ_SECRET_KEY)")
	etcdFlags(f, &o.etcd)
	return cmd
}

func (o *importOptions) validate() error {
	switch {
	case o.src.Controller == "":
		return errors.New("--rocketmq-controller is required")
	case o.src.NameServer == "" && len(o.src.Names) == 0:
		return errors.New("give --namesrv, or --cluster and --broker-name")
	case o.src.NameServer == "" && o.src.Cluster == "":
		return errors.New("--cluster is required with --broker-name and no --namesrv (1006 does not tell a broker-set's cluster)")
	case o.accessKey != "" && o.secretKey == "" && os.Getenv("LEDGERLESS_ROCKETMQ_SECRET_KEY") == "":
		return errors.New("--access-key needs --secret-key or $LEDGERLESS_ROCKETMQ_SECRET_KEY")
	}
	for _, addr := range []string{o.src.Controller, o.src.NameServer} {
		if addr != "" {
			if err := ledgerless.ValidateAddress(addr); err != nil {
				return err
			}
		}
	}
	if o.src.Cluster != "" {
		if err := ledgerless.ValidateName("cluster", o.src.Cluster); err != nil {
			return err
		}
	}
	return nil
}

// planned is one broker-set and what the import does with it.
type planned struct {
	set    remoting.BrokerSet
	exists bool
	differ []string // how the existing group differs from the broker-set
}

func (p planned) action(force bool) string {
	same := "; it is the same as the broker-set"
	if len(p.differ) > 0 {
		same = "; it differs: " + strings.Join(p.differ, ", ")
	}
	switch {
	case p.set.Err != nil:
		return "refused: " + strings.ReplaceAll(p.set.Err.Error(), "\n", "; ")
	case p.exists && !force:
		return "refused: the group exists in ledgerless (--force replaces it)" + same
	case p.exists:
		return "replace the existing group" + same
	}
	return "create"
}

// differences says how group have differs from the imported want, in
// what an import writes.
func differences(have, want ledgerless.Group) []string {
	var d []string
	h, w := have.State, want.State
	field := func(name string, have, want any) {
		if fmt.Sprint(have) != fmt.Sprint(want) {
			d = append(d, fmt.Sprintf("%s %v in ledgerless, %v imported", name, have, want))
		}
	}
	field("master", h.MasterBrokerID, w.MasterBrokerID)
	field("masterEpoch", h.MasterEpoch, w.MasterEpoch)
	field("syncStateSet", h.SyncStateSet, w.SyncStateSet)
	field("syncStateSetEpoch", h.SyncStateSetEpoch, w.SyncStateSetEpoch)
	brokers := func(g ledgerless.Group) []string {
		var out []string
		for _, b := range g.Brokers {
			out = append(out, fmt.Sprintf("%d=%s", b.ID, b.Address))
		}
		return out
	}
	field("brokers", brokers(have), brokers(want))
	return d
}

func (p planned) refused(force bool) bool { return p.set.Err != nil || (p.exists && !force) }

func runImport(ctx context.Context, o importOptions, out, progress io.Writer) error {
	counter := &countLine{w: progress, what: "read", unit: "broker-sets", every: 500 * time.Millisecond}
	o.src.Progress = counter.report
	read, err := remoting.ReadBrokerSets(ctx, o.src)
	counter.done()
	if err != nil {
		return importError(err)
	}
	st, err := openEtcd(o.etcd)
	if err != nil {
		return &cli.Error{Class: cli.Unavailable, Err: err}
	}
	defer st.Close()
	plan := make([]planned, 0, len(read.Sets))
	for _, set := range read.Sets {
		snap, err := st.ReadGroup(ctx, set.Group.Key)
		if err != nil {
			return &cli.Error{Class: cli.Unavailable, Err: err}
		}
		p := planned{set: set, exists: snap.Exists()}
		if p.exists {
			p.differ = differences(snap.Group, set.Group)
		}
		plan = append(plan, p)
	}
	printPlan(out, read, plan, o)

	var refused []string
	for _, p := range plan {
		if p.refused(o.force) {
			refused = append(refused, p.set.Group.Key.String())
		}
	}
	if len(refused) > 0 {
		what := "nothing was written"
		if o.dryRun {
			what = "dry run: nothing was written"
		}
		return &cli.Error{Class: cli.Refused, Err: fmt.Errorf("import refused for %d of %d groups (%s); %s",
			len(refused), len(plan), strings.Join(refused, ", "), what)}
	}
	if o.dryRun {
		paused := ""
		if o.pause {
			paused = " and paused"
		}
		_, err := fmt.Fprintf(out, "dry run: %s would be imported%s; nothing was written\n", count(len(plan), "group"), paused)
		return err
	}
	if len(plan) == 0 {
		_, err := fmt.Fprintln(out, "nothing to import")
		return err
	}
	if o.pause {
		if err := pauseGroups(ctx, st, plan); err != nil {
			return &cli.Error{Class: cli.Unavailable, Err: fmt.Errorf("pause the groups before importing them: %w; nothing was imported", err)}
		}
	}
	counter = &countLine{w: progress, what: "imported", unit: "groups", every: 500 * time.Millisecond}
	for i, p := range plan {
		if _, err := st.ImportGroup(ctx, p.set.Group, o.force, o.replica, time.Now()); err != nil {
			counter.done()
			class := cli.Unavailable
			if errors.Is(err, store.ErrGroupExists) || errors.Is(err, ledgerless.ErrInvalidRequest) {
				class = cli.Refused
			}
			return &cli.Error{Class: class, Err: fmt.Errorf("%w (%d of %d groups were imported before it)", err, i, len(plan))}
		}
		counter.report(i+1, len(plan))
	}
	counter.done()
	if _, err := fmt.Fprintf(out, "imported %s from %s\n", count(len(plan), "group"), read.Leader); err != nil {
		return err
	}
	if o.pause {
		_, err = fmt.Fprintln(out, `the groups are paused: an imported master stays master, not alive, until it heartbeats.
Point each broker's controllerAddr at the replicas, then, once its brokers show alive
(ledgerless group get CLUSTER GROUP), resume it: ledgerless resume CLUSTER GROUP`)
	}
	return err
}

// importError classes an error of reading the stock controller.
func importError(err error) error {
	switch {
	case errors.Is(err, remoting.ErrNoAnswer):
		return &cli.Error{Class: cli.Unavailable, Err: err}
	case errors.Is(err, remoting.ErrRefused), errors.Is(err, ledgerless.ErrInvalidRequest), errors.Is(err, ledgerless.ErrBrokerMetadataNotExist):
		return &cli.Error{Class: cli.Refused, Err: err}
	}
	return err
}

// pauseGroups adds the planned groups to the runtime configuration's
// pausedGroups, in one compare-and-swap of the configuration.
func pauseGroups(ctx context.Context, st *store.Store, plan []planned) error {
	for attempt := 0; ; attempt++ {
		c, rev, err := st.ReadConfig(ctx)
		if err != nil {
			return err
		}
		for _, p := range plan {
			c.PausedGroups = append(c.PausedGroups, p.set.Group.Key.String())
		}
		if err := c.Validate(); err != nil {
			return err
		}
		_, err = st.WriteConfig(ctx, c, rev)
		if !errors.Is(err, store.ErrConflict) || attempt == 5 {
			return err
		}
	}
}

// printPlan prints a table per group.
func printPlan(w io.Writer, read remoting.ImportRead, plan []planned, o importOptions) {
	fmt.Fprintf(w, "%s from controller %s\n", count(len(plan), "broker-set"), read.Leader)
	if len(read.Unmanaged) > 0 {
		fmt.Fprintf(w, "not in the controller (brokers not in controller mode), left out: %s\n", strings.Join(read.Unmanaged, ", "))
	}
	for _, p := range plan {
		g := p.set.Group
		st := g.State
		master := "none"
		if st.MasterBrokerID != 0 {
			master = fmt.Sprintf("%d at %s", st.MasterBrokerID, st.MasterAddress)
		}
		fmt.Fprintf(w, "\n%s: %s\n", g.Key, p.action(o.force))
		fmt.Fprintf(w, "  master %s, masterEpoch %d, syncStateSet %v at syncStateSetEpoch %d, next broker id %d (the controller's %d)\n",
			master, st.MasterEpoch, st.SyncStateSet, st.SyncStateSetEpoch, st.NextBrokerID, p.set.StockNextBrokerID)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  BROKER\tADDRESS\tIN SYNC\tROLE")
		for _, b := range g.Brokers {
			inSync := "no"
			if slices.Contains(st.SyncStateSet, b.ID) {
				inSync = "yes"
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", b.ID, b.Address, inSync, strings.ToLower(string(ledgerless.RoleOf(st, b.ID))))
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
}

// count is n things, in the plural unless one.
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// countLine prints a count's progress on one terminal line, at most once
// per every.
type countLine struct {
	w          io.Writer
	what, unit string
	every      time.Duration
	last       time.Time
	n, total   int
}

func (c *countLine) report(n, total int) {
	c.n, c.total = n, total
	if time.Since(c.last) < c.every {
		return
	}
	c.last = time.Now()
	fmt.Fprintf(c.w, "\r%s %d of %d %s   ", c.what, n, total, c.unit)
}

func (c *countLine) done() {
	if c.total > 0 {
		fmt.Fprintf(c.w, "\r%s %d of %d %s\n", c.what, c.n, c.total, c.unit)
	}
}
