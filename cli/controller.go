package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/ledgerless/ledgerless/client"
)

// History page sizes the API accepts.
const (
	defaultHistoryLimit = 50
	maxHistoryLimit     = 1000
)

// historyPage is a page of a group's election history, newest first.
type historyPage struct {
	Items []struct {
		MasterEpoch       int64     `json:"masterEpoch"`
		Time              time.Time `json:"time"`
		Reason            string    `json:"reason"`
		OldMasterBrokerID *int64    `json:"oldMasterBrokerId"`
		NewMasterBrokerID *int64    `json:"newMasterBrokerId"`
		Replica           string    `json:"replica"`
	} `json:"items"`
	Next *int64 `json:"next"`
}

// controllerInfo is the controller's metadata: its replicas and its etcd.
type controllerInfo struct {
	Replicas []struct {
		ID        string    `json:"id"`
		Address   string    `json:"address"`
		Version   string    `json:"version"`
		StartedAt time.Time `json:"startedAt"`
		Alive     bool      `json:"alive"`
	} `json:"replicas"`
	Etcd struct {
		Endpoints []string `json:"endpoints"`
		Embedded  bool     `json:"embedded"`
		Leader    string   `json:"leader"`
	} `json:"etcd"`
}

func (a *app) historyCommand() *cobra.Command {
	var limit, before int64
	cmd := &cobra.Command{
		Use:   "history CLUSTER GROUP",
		Short: "Show a group's election history, newest first",
		Long: `Show a group's election history, newest first: every masterEpoch with its
time, reason, old and new master, and the controller replica that made it.`,
		Example: `  ledgerless history DefaultCluster broker-a --limit 10`,
		Args:    exactArgs("CLUSTER", "GROUP"),
	}
	cmd.RunE = a.run(func(ctx context.Context, s *session, args []string) error {
		if limit < 1 || limit > maxHistoryLimit {
			return usageError(cmd, "--limit %d: want 1 to %d", limit, maxHistoryLimit)
		}
		q := url.Values{"limit": {strconv.FormatInt(limit, 10)}}
		if cmd.Flags().Changed("before") {
			if before < 1 {
				return usageError(cmd, "--before %d: want a masterEpoch of 1 or more", before)
			}
			q.Set("before", strconv.FormatInt(before, 10))
		}
		var h historyPage
		ans, err := s.client.get(ctx, client.GroupPath(args[0], args[1], "history")+"?"+q.Encode(), &h)
		if err != nil {
			return err
		}
		if err := s.out.print(ans.Body, func(w io.Writer) error { return historyTable(w, &h) }); err != nil {
			return err
		}
		if h.Next != nil && s.out.table() {
			fmt.Fprintf(s.stderr, "Older entries: ledgerless history %s %s --before %d\n", args[0], args[1], *h.Next)
		}
		return nil
	})
	cmd.Flags().Int64Var(&limit, "limit", defaultHistoryLimit, "most entries to show")
	cmd.Flags().Int64Var(&before, "before", 0, "show entries below this masterEpoch (to page back)")
	return cmd
}

func historyTable(w io.Writer, h *historyPage) error {
	t := newTable(w, "MASTER EPOCH", "TIME", "REASON", "OLD MASTER", "NEW MASTER", "REPLICA")
	for _, e := range h.Items {
		t.row(id(e.MasterEpoch), timestamp(e.Time), text(e.Reason), optionalID(e.OldMasterBrokerID),
			optionalID(e.NewMasterBrokerID), text(e.Replica))
	}
	return t.flush()
}

func (a *app) controllerCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "controller",
		Short: "Show the controller's replicas and its etcd",
		Args:  exactArgs(),
		RunE: a.run(func(ctx context.Context, s *session, _ []string) error {
			var c controllerInfo
			ans, err := s.client.get(ctx, "/v1/controller", &c)
			if err != nil {
				return err
			}
			return s.out.print(ans.Body, func(w io.Writer) error { return controllerTable(w, &c) })
		}),
	}
}

func controllerTable(w io.Writer, c *controllerInfo) error {
	t := newTable(w, "REPLICA", "ADDRESS", "VERSION", "STARTED", "ALIVE")
	for _, r := range c.Replicas {
		t.row(r.ID, text(r.Address), text(r.Version), timestamp(r.StartedAt), yesNo(r.Alive))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t = newTable(w, "ETCD ENDPOINTS", "EMBEDDED", "LEADER")
	t.row(list(c.Etcd.Endpoints), yesNo(c.Etcd.Embedded), text(c.Etcd.Leader))
	return t.flush()
}

func (a *app) healthCommand() *cobra.Command {
	var target string
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check that one replica is ready (for container health checks)",
		Long: `Check that the replica at --url is ready: it answers GET /readyz, which
needs its etcd. Exit status 0 when it is ready, 4 otherwise. Only that
replica is asked, never another one. /readyz needs no token; a replica
serving https needs --cacert (unless the system trusts its CA), and
--cert and --key when it requires client certificates.`,
		Example: `  # docker-compose
  healthcheck:
    test: ["CMD", "ledgerless", "health", "--url", "http://127.0.0.1:9878", "--timeout", "3s"]

  # a replica serving https that requires client certificates
  ledgerless health --url https://127.0.0.1:9878 --cacert ca.pem --cert probe.pem --key probe-key.pem`,
		Args: exactArgs(),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if !cmd.Flags().Changed("url") {
			target = a.controllerURLs()[0]
		}
		s, err := a.sessionOn(cmd, "--url", []string{target})
		if err != nil {
			return err
		}
		return s.bounded(cmd.Context(), func(ctx context.Context, s *session, _ []string) error {
			ans, err := s.client.get(ctx, "/readyz", nil)
			if err != nil {
				return &Error{Class: Unavailable, Err: fmt.Errorf("%s is not ready: %w", target, err)}
			}
			s.out.message("%s is ready.", target)
			return s.out.print(ans.Body, func(io.Writer) error { return nil })
		}, args)
	}
	cmd.Flags().StringVar(&target, "url", "", "base URL of the replica to check (default: the first --controller)")
	return cmd
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this binary",
		Long: `Print the version of this binary. The versions of the running replicas are
in ledgerless controller.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !validFormat(a.output) {
				return usageError(cmd, "--output %q: want table, json or yaml", a.output)
			}
			p := &printer{w: cmd.OutOrStdout(), format: a.output}
			return p.print(map[string]string{"version": a.opts.Version}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "ledgerless %s\n", a.opts.Version)
				return err
			})
		},
	}
}
