package cli

import (
	"context"
	"errors"
	"slices"

	"github.com/spf13/cobra"

	"github.com/ledgerless/ledgerless"
)

// Pause, like Patroni's maintenance mode, stops automatic elections: of
// every group (the runtime configuration's paused), or of the groups named
// in pausedGroups. Admin elections still work, and a new group still gets
// its first master.

func (a *app) pauseCommand() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "pause [CLUSTER GROUP]",
		Short: "Stop automatic elections everywhere, or in one group",
		Long: `Stop automatic elections (maintenance mode): of every group, or of group
CLUSTER GROUP only. While paused, a dead master is not replaced; admin
elections (ledgerless elect) still work, and a new group still gets its
first master. Undo with ledgerless resume. The new configuration is printed.

Pausing every group asks for confirmation on a terminal, and needs --yes
elsewhere.`,
		Example: `  ledgerless pause                 # asks "Proceed? [y/N]"
  ledgerless pause --yes
  ledgerless pause DefaultCluster broker-a`,
		Args: noneOrBoth("CLUSTER", "GROUP"),
	}
	cmd.RunE = a.run(func(ctx context.Context, s *session, args []string) error {
		if len(args) == 0 {
			if err := confirm(cmd, s, yes, "This pauses automatic elections of every group: a dead master is replaced by nobody until ledgerless resume"); err != nil {
				return err
			}
			return setPaused(ctx, s, true)
		}
		return pauseGroup(ctx, s, ledgerless.GroupKey{Cluster: args[0], Group: args[1]}.String(), true)
	})
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func (a *app) resumeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "resume [CLUSTER GROUP]",
		Short: "Resume automatic elections everywhere, or in one group",
		Long: `Resume automatic elections: everywhere (the global pause; groups paused one
by one stay paused), or of group CLUSTER GROUP (which a global pause still
covers). The new configuration is printed.`,
		Example: `  ledgerless resume
  ledgerless resume DefaultCluster broker-a`,
		Args: noneOrBoth("CLUSTER", "GROUP"),
		RunE: a.run(func(ctx context.Context, s *session, args []string) error {
			if len(args) == 0 {
				return setPaused(ctx, s, false)
			}
			return pauseGroup(ctx, s, ledgerless.GroupKey{Cluster: args[0], Group: args[1]}.String(), false)
		}),
	}
}

// setPaused pauses or resumes automatic elections everywhere.
func setPaused(ctx context.Context, s *session, pause bool) error {
	ans, c, err := patchConfig(ctx, s, map[string]any{"paused": pause})
	if err != nil {
		return err
	}
	if pause {
		s.out.message("Paused automatic elections of every group.")
	} else {
		s.out.message("Resumed automatic elections.")
		if len(c.PausedGroups) > 0 {
			s.out.message("These groups stay paused: %s (ledgerless resume CLUSTER GROUP resumes one).", list(c.PausedGroups))
		}
	}
	return printConfig(s, ans, c)
}

// pauseGroup adds name to pausedGroups (pause) or takes it out: it reads
// the configuration, changes the list and writes it with If-Match, so that
// the write applies only to the configuration read; when another change
// came first (412), it reads again. Two operators pausing two groups at
// once both get their pause.
func pauseGroup(ctx context.Context, s *session, name string, pause bool) error {
	for attempt := 1; ; attempt++ {
		var c runtimeConfig
		ans, err := s.client.get(ctx, "/v1/config", &c)
		if err != nil {
			return err
		}
		i := slices.Index(c.PausedGroups, name)
		if pause == (i >= 0) {
			s.out.message("%s is already %s.", name, pausedWord(pause))
			stillPaused(s, pause, &c)
			return printConfig(s, ans, &c)
		}
		groups := slices.Clone(c.PausedGroups)
		if pause {
			groups = append(groups, name)
		} else {
			groups = slices.Delete(groups, i, i+1)
		}
		if groups == nil {
			groups = []string{}
		}
		tag := ans.Header.Get("ETag")
		if tag == "" {
			return &Error{Class: Unavailable, Err: errors.New("GET /v1/config: the answer has no ETag to patch it with")}
		}
		ans, next, err := patchConfigIf(ctx, s, tag, map[string]any{"pausedGroups": groups})
		if errors.Is(err, ledgerless.ErrPreconditionFailed) && attempt < maxPatchAttempts {
			continue // changed since read: read it again
		}
		if err != nil {
			return err
		}
		if pause {
			s.out.message("Paused automatic elections of %s.", name)
		} else {
			s.out.message("Resumed automatic elections of %s.", name)
		}
		stillPaused(s, pause, next)
		return printConfig(s, ans, next)
	}
}

// maxPatchAttempts bounds the reads and conditional writes of one change
// of the configuration that others keep changing.
const maxPatchAttempts = 10

// stillPaused tells whoever resumes a group that the global pause still
// covers it.
func stillPaused(s *session, pause bool, c *runtimeConfig) {
	if !pause && c.Paused {
		s.out.message("Automatic elections stay paused everywhere: ledgerless resume (with no group) resumes them.")
	}
}

func pausedWord(paused bool) string {
	if paused {
		return "paused"
	}
	return "not paused on its own"
}
