package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/ledgerless/ledgerless/client"
)

type clusterList struct {
	Clusters []struct {
		Cluster string   `json:"cluster"`
		Groups  []string `json:"groups"`
	} `json:"clusters"`
}

type groupList struct {
	Groups []client.Group `json:"groups"`
}

func (a *app) clustersCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "clusters",
		Short: "List the clusters and their groups",
		Args:  exactArgs(),
		RunE: a.run(func(ctx context.Context, s *session, _ []string) error {
			var v clusterList
			ans, err := s.client.get(ctx, "/v1/clusters", &v)
			if err != nil {
				return err
			}
			return s.out.print(ans.Body, func(w io.Writer) error {
				t := newTable(w, "CLUSTER", "GROUPS")
				for _, c := range v.Clusters {
					t.row(c.Cluster, list(c.Groups))
				}
				return t.flush()
			})
		}),
	}
}

func (a *app) groupsCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "groups CLUSTER",
		Short:   "List a cluster's groups with their masters and SyncStateSets",
		Example: "  ledgerless groups DefaultCluster",
		Args:    exactArgs("CLUSTER"),
		RunE: a.run(func(ctx context.Context, s *session, args []string) error {
			var v groupList
			ans, err := s.client.get(ctx, "/v1/clusters/"+url.PathEscape(args[0])+"/groups", &v)
			if err != nil {
				return err
			}
			return s.out.print(ans.Body, func(w io.Writer) error { return groupsTable(w, v.Groups) })
		}),
	}
}

func groupsTable(w io.Writer, groups []client.Group) error {
	t := newTable(w, "GROUP", "MASTER", "MASTER EPOCH", "SYNC STATE SET", "SYNC STATE SET EPOCH", "ALIVE/TOTAL", "PAUSED")
	for i := range groups {
		g := &groups[i]
		alive := 0
		for _, b := range g.Brokers {
			if b.Alive {
				alive++
			}
		}
		t.row(g.Group, master(g), id(g.MasterEpoch), ids(g.SyncStateSet), id(g.SyncStateSetEpoch),
			fmt.Sprintf("%d/%d", alive, len(g.Brokers)), yesNo(g.Paused))
	}
	return t.flush()
}

// master is the group's master as "id (address)", or "-".
func master(g *client.Group) string {
	if g.MasterBrokerID == nil {
		return none
	}
	if g.MasterAddress == "" {
		return id(*g.MasterBrokerID)
	}
	return fmt.Sprintf("%d (%s)", *g.MasterBrokerID, g.MasterAddress)
}

func (a *app) groupCommand() *cobra.Command {
	return parent("group", "Show a broker group", a.groupGetCommand())
}

func (a *app) groupGetCommand() *cobra.Command {
	var watch, masterHost bool
	cmd := &cobra.Command{
		Use:   "get CLUSTER GROUP",
		Short: "Show a group's master state and brokers",
		Long: `Show a group's master state and its brokers: id, address, role, liveness,
SyncStateSet membership and the data of their last heartbeat.

With --watch, print the group again on every change (a new master, a
SyncStateSet change, a broker registering, dying or coming back) until
interrupted. Heartbeat data alone is not a change.

With --master-host, print only the host of the master's address: in the
docker-compose demo, that is the master's container.`,
		Example: `  ledgerless group get DefaultCluster broker-a
  ledgerless group get DefaultCluster broker-a --watch
  docker-compose kill $(ledgerless group get DefaultCluster broker-a --master-host)`,
		Args: exactArgs("CLUSTER", "GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case watch && masterHost:
				return usageError(cmd, "give --watch or --master-host, not both")
			case watch:
				return a.runLong(watchGroup)(cmd, args)
			case masterHost:
				return a.run(getMasterHost)(cmd, args)
			}
			return a.run(getGroup)(cmd, args)
		},
	}
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "print the group again on every change until interrupted")
	cmd.Flags().BoolVar(&masterHost, "master-host", false, "print only the host of the master's address (exit 1 when the group has no master)")
	return cmd
}

func getGroup(ctx context.Context, s *session, args []string) error {
	var g client.Group
	ans, err := s.client.get(ctx, client.GroupPath(args[0], args[1]), &g)
	if err != nil {
		return err
	}
	return s.out.print(ans.Body, func(w io.Writer) error { return groupTable(w, &g) })
}

// getMasterHost prints the host of the master's address of group args[1]
// of cluster args[0].
func getMasterHost(ctx context.Context, s *session, args []string) error {
	var g client.Group
	if _, err := s.client.get(ctx, client.GroupPath(args[0], args[1]), &g); err != nil {
		return err
	}
	if g.MasterBrokerID == nil || g.MasterAddress == "" {
		return fmt.Errorf("group %s/%s has no master", args[0], args[1])
	}
	host, _, err := net.SplitHostPort(g.MasterAddress)
	if err != nil {
		host = g.MasterAddress
	}
	_, err = fmt.Fprintln(s.out.w, host)
	return err
}

// groupTable prints a group: a line of master state, then its brokers.
func groupTable(w io.Writer, g *client.Group) error {
	fmt.Fprintf(w, "Group %s/%s: master %s, masterEpoch %d, syncStateSet %s (epoch %d), paused %s\n",
		g.Cluster, g.Group, master(g), g.MasterEpoch, ids(g.SyncStateSet), g.SyncStateSetEpoch, yesNo(g.Paused))
	t := newTable(w, "ID", "ADDRESS", "ROLE", "ALIVE", "IN SYNC", "EPOCH", "MAX OFFSET", "CONFIRM OFFSET",
		"PRIORITY", "LAST HEARTBEAT")
	for _, b := range g.Brokers {
		role := "SLAVE"
		if g.MasterBrokerID != nil && *g.MasterBrokerID == b.BrokerID {
			role = "MASTER"
		}
		t.row(id(b.BrokerID), text(b.Address), role, yesNo(b.Alive), yesNo(b.InSync), id(b.Epoch),
			id(b.MaxOffset), id(b.ConfirmOffset), id(b.ElectionPriority), optionalTime(b.LastHeartbeat))
	}
	return t.flush()
}
