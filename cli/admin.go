package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ledgerless/ledgerless/client"
)

// confirm asks the operator to go ahead with what describes, unless yes
// (--yes) is given. Without a terminal to ask on, and without --yes, it
// refuses with a usage error: scripts must say --yes.
func confirm(cmd *cobra.Command, s *session, yes bool, what string) error {
	if yes {
		return nil
	}
	if !s.terminal {
		return usageError(cmd, "%s; stdin is not a terminal to confirm on, so pass --yes to proceed", what)
	}
	fmt.Fprintf(s.stderr, "%s.\nProceed? [y/N] ", what)
	answer, err := bufio.NewReader(s.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read confirmation: %w", err)
	}
	if err != nil && answer == "" {
		fmt.Fprintln(s.stderr)
		return usageError(cmd, "no answer: stdin ended; pass --yes to proceed without confirmation")
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return &Error{Class: Aborted, Err: errors.New("aborted: not confirmed")}
}

func (a *app) electCommand() *cobra.Command {
	var brokerID int64
	var yes bool
	cmd := &cobra.Command{
		Use:   "elect CLUSTER GROUP",
		Short: "Elect a new master of a group (switchover)",
		Long: `Elect a new master of a group: broker --broker, which must be alive and in
the SyncStateSet (or alive, with enableElectUncleanMaster on), or without
--broker the best alive in-sync broker other than the current master.
The masterEpoch goes up by one; the old master learns it is a slave on its
next heartbeat. Electing the current master is refused (MASTER_STILL_EXIST).`,
		Example: `  ledgerless elect DefaultCluster broker-a --broker 2
  ledgerless elect DefaultCluster broker-a --yes   # the best in-sync slave`,
		Args: exactArgs("CLUSTER", "GROUP"),
	}
	cmd.RunE = a.run(func(ctx context.Context, s *session, args []string) error {
		if cmd.Flags().Changed("broker") && brokerID <= 0 {
			return usageError(cmd, "--broker %d: want a positive broker id", brokerID)
		}
		target, body := "the best in-sync broker other than the master", map[string]any{}
		if brokerID > 0 {
			target, body["brokerId"] = "broker "+id(brokerID), brokerID
		}
		if err := confirm(cmd, s, yes, fmt.Sprintf("This elects %s as master of %s/%s", target, args[0], args[1])); err != nil {
			return err
		}
		var g client.Group
		ans, err := s.client.call(ctx, http.MethodPost, client.GroupPath(args[0], args[1], "elect"), body, &g)
		if err != nil {
			return err
		}
		s.out.message("Elected broker %s as master of %s/%s (masterEpoch %d).", optionalID(g.MasterBrokerID),
			g.Cluster, g.Group, g.MasterEpoch)
		return s.out.print(ans.Body, func(w io.Writer) error { return groupTable(w, &g) })
	})
	cmd.Flags().Int64Var(&brokerID, "broker", 0, "id of the broker to elect (default: the best candidate)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// cleanResult is clean's result for JSON and YAML output.
type cleanResult struct {
	Cluster        string  `json:"cluster"`
	Group          string  `json:"group"`
	RemovedBrokers []int64 `json:"removedBrokers,omitempty"`
	RemovedGroup   bool    `json:"removedGroup,omitempty"`
}

func (a *app) cleanCommand() *cobra.Command {
	var brokers []int64
	var force, yes bool
	cmd := &cobra.Command{
		Use:   "clean CLUSTER GROUP",
		Short: "Remove brokers of a group, or the whole group, from the controller",
		Long: `Remove the metadata of brokers of a group (--broker, repeatable), or of the
whole group with its history when no --broker is given.

A living broker, or a group with one, is refused unless --force; the living
master is always refused (elect another master first). Removing a dead
master leaves the group without one, at a new masterEpoch.`,
		Example: `  ledgerless clean DefaultCluster broker-a --broker 3
  ledgerless clean DefaultCluster broker-a --broker 2 --broker 3 --force
  ledgerless clean DefaultCluster broker-a --yes   # the whole group`,
		Args: exactArgs("CLUSTER", "GROUP"),
	}
	cmd.RunE = a.run(func(ctx context.Context, s *session, args []string) error {
		for _, b := range brokers {
			if b <= 0 {
				return usageError(cmd, "--broker %d: want a positive broker id", b)
			}
		}
		if err := confirm(cmd, s, yes, cleanWhat(args[0], args[1], brokers, force)); err != nil {
			return err
		}
		c := cleaner{s: s, cluster: args[0], group: args[1], force: force}
		return c.clean(ctx, brokers)
	})
	cmd.Flags().Int64SliceVar(&brokers, "broker", nil, "id of a broker to remove; repeat or comma-separate for several (default: the whole group)")
	cmd.Flags().Lookup("broker").DefValue = "" // its usage says the default: not "[]" too
	cmd.Flags().BoolVar(&force, "force", false, "remove living brokers too")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// cleanWhat describes a clean for its confirmation.
func cleanWhat(cluster, group string, brokers []int64, force bool) string {
	what := fmt.Sprintf("This removes group %s/%s with all its brokers and history", cluster, group)
	if len(brokers) > 0 {
		what = fmt.Sprintf("This removes broker %s from group %s/%s", ids(brokers), cluster, group)
	}
	if force {
		what += ", even living ones"
	}
	return what
}

// cleaner removes brokers or a group and reports what it removed.
type cleaner struct {
	s              *session
	cluster, group string
	force          bool
}

// clean removes brokers one by one, or the group when there are none. It
// stops at the first refusal; what was removed before is reported.
func (c *cleaner) clean(ctx context.Context, brokers []int64) error {
	res := cleanResult{Cluster: c.cluster, Group: c.group}
	if len(brokers) == 0 {
		if err := c.remove(ctx, client.GroupPath(c.cluster, c.group)); err != nil {
			return err
		}
		res.RemovedGroup = true
		c.s.out.message("Removed group %s/%s.", c.cluster, c.group)
		return c.s.out.print(res, func(io.Writer) error { return nil })
	}
	var failed error
	for _, b := range brokers {
		if failed = c.remove(ctx, client.GroupPath(c.cluster, c.group, "brokers", strconv.FormatInt(b, 10))); failed != nil {
			break
		}
		res.RemovedBrokers = append(res.RemovedBrokers, b)
		c.s.out.message("Removed broker %d from %s/%s.", b, c.cluster, c.group)
	}
	if failed != nil && len(res.RemovedBrokers) == 0 {
		return failed
	}
	if err := c.s.out.print(res, func(io.Writer) error { return nil }); err != nil {
		return err
	}
	return failed
}

func (c *cleaner) remove(ctx context.Context, path string) error {
	if c.force {
		path += "?force=true"
	}
	_, err := c.s.client.do(ctx, http.MethodDelete, path, nil)
	return err
}
