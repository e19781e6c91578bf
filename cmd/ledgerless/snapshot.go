package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ledgerless/ledgerless/server"
	"github.com/ledgerless/ledgerless/store"
)

func newSnapshot() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Back up the controller's etcd state and restore it (the disaster drill)",
		Long: `Back up the controller's etcd state, and restore it after a disaster.

save takes a consistent snapshot through the etcd maintenance API, from an
embedded member (its --embedded-client-url) or an external etcd. restore
makes a new embedded member from it; every member of a multi-member
cluster is restored from the same file. The first replica started on a
restored member fences every group before electing anything: epochs go up
by --epoch-margin, masters become none, and each group elects again only
from brokers that report to the restored state, so that no broker ever sees
an epoch go back. For an external etcd, restore with etcd's own
etcdutl snapshot restore, then run fence before starting any replica.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newSnapshotSave(), newSnapshotRestore(), newSnapshotFence())
	return cmd
}

// etcdFlags are the flags that reach an etcd, as serve names them.
func etcdFlags(f *pflag.FlagSet, cfg *store.ClientConfig) {
	d := server.Defaults()
	f.StringSliceVar(&cfg.Endpoints, "etcd-endpoints", []string{d.Embedded.ClientURL},
		"etcd client URLs, comma-separated")
	f.DurationVar(&cfg.DialTimeout, "etcd-dial-timeout", d.Etcd.DialTimeout, "timeout to connect to etcd")
	f.StringVar(&cfg.Username, "etcd-username", "", "etcd user name")
	f.StringVar(&cfg.Password, "etcd-password", "", "etcd password (default: $LEDGERLESS_ETCD_PASSWORD)")
	f.StringVar(&cfg.CAFile, "etcd-ca-file", "", "CA bundle verifying etcd's servers; enables TLS")
	f.StringVar(&cfg.CertFile, "etcd-cert-file", "", "client certificate for etcd")
	f.StringVar(&cfg.KeyFile, "etcd-key-file", "", "client key for etcd")
	f.StringVar(&cfg.Prefix, "etcd-prefix", d.Etcd.Prefix, "prefix of every key ledgerless writes")
}

func openEtcd(cfg store.ClientConfig) (*store.Store, error) {
	if cfg.Password == "" {
		cfg.Password = os.Getenv("LEDGERLESS_ETCD_PASSWORD")
	}
	return store.Open(cfg)
}

func newSnapshotSave() *cobra.Command {
	var cfg store.ClientConfig
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "save FILE",
		Short: "Save a consistent snapshot of etcd to FILE",
		Long: `Save a consistent snapshot of etcd's whole keyspace to FILE, through the
etcd maintenance API. The file is written as FILE.part, checked and renamed:
FILE is never a partial snapshot. Progress goes to standard error.`,
		Example: `  # the embedded etcd of a replica started with the defaults
  ledgerless snapshot save backup.db

  # an external etcd over TLS
  ledgerless snapshot save backup.db --etcd-endpoints https://etcd1:2379 --etcd-ca-file ca.pem`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openEtcd(cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			p := &progressLine{w: cmd.ErrOrStderr(), every: 500 * time.Millisecond}
			info, err := st.SaveSnapshot(ctx, args[0], p.report)
			p.done()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "saved %s: %s, revision %d, %d keys, sha256 %s\n",
				info.Path, bytesText(info.Bytes), info.Revision, info.Keys, info.SHA256)
			return err
		},
	}
	etcdFlags(cmd.Flags(), &cfg)
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "time limit of the whole save")
	return cmd
}

func newSnapshotRestore() *cobra.Command {
	d := server.Defaults()
	cfg := store.RestoreConfig{DataDir: d.DataDir, PeerURL: d.Embedded.PeerURL}
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Make an embedded etcd member in --data-dir from a snapshot",
		Long: `Restore a snapshot into --data-dir as a new embedded etcd member, with etcd's
own restore. Give the member the --embedded-name, --embedded-peer-url and
--embedded-initial-cluster that serve will be started with; restore every
member of a multi-member cluster from the same FILE. --data-dir must hold
no member yet (move the old one away).

etcd's revision, which is the long-poll index brokers hold, goes up by
--revision-bump. The restore leaves a fence in --data-dir: the replica
started on it raises every group's masterEpoch and syncStateSetEpoch by
--epoch-margin and clears its master before electing anything; a group
elects again once its brokers report (docs/day2.md, the disaster drill).`,
		Example: `  # a single embedded member, as serve runs by default
  ledgerless snapshot restore backup.db --data-dir ./ledgerless.data

  # member c1 of three
  ledgerless snapshot restore backup.db --data-dir /var/lib/ledgerless --embedded-name c1 \
    --embedded-peer-url http://c1:2380 \
    --embedded-initial-cluster c1=http://c1:2380,c2=http://c2:2380,c3=http://c3:2380`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Snapshot = args[0]
			if cfg.Name == "" {
				cfg.Name = d.ReplicaID
			}
			info, f, err := store.Restore(cfg)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "restored %s (revision %d, %d keys) into %s as member %s; fence %s (epochs +%d) applies when serve starts\n",
				info.Path, info.Revision, info.Keys, cfg.DataDir, cfg.Name, f.ID, f.EpochMargin)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "serve's --data-dir: etcd's files go to its etcd/ directory")
	f.StringVar(&cfg.Name, "embedded-name", "", "member name, as serve's --embedded-name (default: the replica id, the host name)")
	f.StringVar(&cfg.PeerURL, "embedded-peer-url", cfg.PeerURL, "member peer URL, as serve's --embedded-peer-url")
	f.StringVar(&cfg.InitialCluster, "embedded-initial-cluster", "", "initial cluster name=peerURL,..., as serve's (default: this member alone)")
	f.Int64Var(&cfg.EpochMargin, "epoch-margin", store.DefaultEpochMargin, "how much every group's epochs go up: more epoch changes than a group has had since the snapshot")
	f.Uint64Var(&cfg.RevisionBump, "revision-bump", store.DefaultRevisionBump, "how much etcd's revision goes up: more revisions than were written since the snapshot")
	return cmd
}

func newSnapshotFence() *cobra.Command {
	var cfg store.ClientConfig
	var margin int64
	var replica string
	cmd := &cobra.Command{
		Use:   "fence FILE",
		Short: "Fence an external etcd restored from snapshot FILE",
		Long: `Apply the restore fence to an etcd that was restored from FILE with etcd's own
tools (etcdutl snapshot restore), before any replica runs against it: every
group's epochs go up by --epoch-margin and its master becomes none, and a
group elects again once its brokers report. Applying the fence of the same
FILE again changes nothing.`,
		Example: `  ledgerless snapshot fence backup.db --etcd-endpoints http://etcd1:2379,http://etcd2:2379`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := store.SnapshotStatus(args[0])
			if err != nil {
				return err
			}
			st, err := openEtcd(cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			f := store.Fence{ID: info.SHA256[:16], EpochMargin: margin}
			res, err := st.ApplyFence(ctx, f, replica, time.Now())
			if err != nil {
				return err
			}
			if res.Already {
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "fence %s was applied before; nothing changed\n", f.ID)
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "fence %s applied: %d groups, epochs +%d\n", f.ID, res.Groups, margin)
			return err
		},
	}
	etcdFlags(cmd.Flags(), &cfg)
	cmd.Flags().Int64Var(&margin, "epoch-margin", store.DefaultEpochMargin, "how much every group's epochs go up")
	cmd.Flags().StringVar(&replica, "replica-id", "snapshot-fence", "name recorded in the groups' election history")
	return cmd
}

// progressLine prints a snapshot's progress on one terminal line.
type progressLine struct {
	w       io.Writer
	every   time.Duration
	last    time.Time
	written int64
	printed bool
}

func (p *progressLine) report(written, expected int64) {
	p.written = written
	if time.Since(p.last) < p.every {
		return
	}
	p.last, p.printed = time.Now(), true
	if expected > 0 {
		fmt.Fprintf(p.w, "\rsnapshot: %s of about %s (%d%%)   ", bytesText(written), bytesText(expected), min(100, written*100/expected))
		return
	}
	fmt.Fprintf(p.w, "\rsnapshot: %s   ", bytesText(written))
}

func (p *progressLine) done() {
	if p.printed || p.written > 0 {
		fmt.Fprintf(p.w, "\rsnapshot: %s received\n", bytesText(p.written))
	}
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
