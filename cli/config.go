package cli

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/client"
)

// runtimeConfig is the controller's runtime configuration, shared by every
// replica through etcd.
type runtimeConfig struct {
	EnableElectUncleanMaster  bool     `json:"enableElectUncleanMaster"`
	Paused                    bool     `json:"paused"`
	PausedGroups              []string `json:"pausedGroups"`
	DefaultHeartbeatTimeoutMs int64    `json:"defaultHeartbeatTimeoutMs"`
}

// setting is a key of the runtime configuration and how to read its value
// from the command line; an empty value or "null" resets it.
type setting struct {
	key   string
	parse func(string) (any, error)
}

// settings are the keys `config set` knows.
func settings() []setting {
	return []setting{
		{"enableElectUncleanMaster", parseBool},
		{"paused", parseBool},
		{"pausedGroups", parseGroups},
		{"defaultHeartbeatTimeoutMs", parseInt},
	}
}

// parseBool reads true/false, yes/no, on/off or 1/0.
func parseBool(s string) (any, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return nil, errors.New("want true or false")
}

func parseInt(s string) (any, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, errors.New("want an integer")
	}
	return n, nil
}

// parseGroups reads comma-separated "cluster/group" names.
func parseGroups(s string) (any, error) {
	groups := []string{}
	for _, g := range strings.Split(s, ",") {
		if g = strings.TrimSpace(g); g == "" {
			continue
		}
		k, err := ledgerless.ParseGroupKey(g)
		if err != nil {
			return nil, err
		}
		groups = append(groups, k.String())
	}
	return groups, nil
}

// mergePatch reads KEY=VALUE arguments into a JSON merge patch.
func mergePatch(cmd *cobra.Command, args []string) (map[string]any, error) {
	patch := map[string]any{}
	for _, arg := range args {
		name, value, ok := strings.Cut(arg, "=")
		if !ok {
			return nil, usageError(cmd, "%q: want KEY=VALUE", arg)
		}
		i := slices.IndexFunc(settings(), func(s setting) bool { return strings.EqualFold(s.key, name) })
		if i < 0 {
			return nil, usageError(cmd, "unknown key %q: want one of %s", name, keys())
		}
		s := settings()[i]
		if _, dup := patch[s.key]; dup {
			return nil, usageError(cmd, "%s is given twice", s.key)
		}
		if value == "" || value == "null" {
			patch[s.key] = nil
			continue
		}
		v, err := s.parse(value)
		if err != nil {
			return nil, usageError(cmd, "%s=%s: %s", s.key, value, err)
		}
		patch[s.key] = v
	}
	return patch, nil
}

func keys() string {
	var names []string
	for _, s := range settings() {
		names = append(names, s.key)
	}
	return strings.Join(names, ", ")
}

func (a *app) configCommand() *cobra.Command {
	return parent("config", "Show or change the runtime configuration shared by every replica",
		a.configGetCommand(), a.configSetCommand())
}

func (a *app) configGetCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "get",
		Short: "Show the runtime configuration",
		Args:  exactArgs(),
		RunE: a.run(func(ctx context.Context, s *session, _ []string) error {
			var c runtimeConfig
			ans, err := s.client.get(ctx, "/v1/config", &c)
			if err != nil {
				return err
			}
			return printConfig(s, ans, &c)
		}),
	}
}

func (a *app) configSetCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "set KEY=VALUE...",
		Short: "Change the runtime configuration",
		Long: `Change keys of the runtime configuration, on every replica at once (it lives
in etcd), with one JSON merge patch. Keys:

  enableElectUncleanMaster   true or false: elect brokers outside the SyncStateSet
                             when no in-sync one is alive (may lose messages)
  paused                     true or false: no automatic elections anywhere
  pausedGroups               comma-separated cluster/group names without
                             automatic elections (replaces the whole list)
  defaultHeartbeatTimeoutMs  heartbeat timeout of brokers that give none

KEY= or KEY=null resets a key to its default. The new configuration is
printed.`,
		Example: `  ledgerless config set enableElectUncleanMaster=true
  ledgerless config set pausedGroups=DefaultCluster/broker-a,DefaultCluster/broker-b
  ledgerless config set defaultHeartbeatTimeoutMs=   # back to the default`,
	}
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usageError(cmd, "missing KEY=VALUE")
		}
		return nil
	}
	cmd.RunE = a.run(func(ctx context.Context, s *session, args []string) error {
		patch, err := mergePatch(cmd, args)
		if err != nil {
			return err
		}
		ans, c, err := patchConfig(ctx, s, patch)
		if err != nil {
			return err
		}
		return printConfig(s, ans, c)
	})
	return cmd
}

// patchConfig sends a merge patch; it returns the resulting configuration.
func patchConfig(ctx context.Context, s *session, patch map[string]any) (*client.Answer, *runtimeConfig, error) {
	return patchConfigIf(ctx, s, "", patch)
}

// patchConfigIf is patchConfig with If-Match: etag (none when empty).
func patchConfigIf(ctx context.Context, s *session, etag string, patch map[string]any) (*client.Answer, *runtimeConfig, error) {
	var header http.Header
	if etag != "" {
		header = http.Header{"If-Match": {etag}}
	}
	var c runtimeConfig
	ans, err := s.client.callWith(ctx, http.MethodPatch, "/v1/config", header, patch, &c)
	if err != nil {
		return nil, nil, err
	}
	return ans, &c, nil
}

// printConfig prints a configuration answer.
func printConfig(s *session, ans *client.Answer, c *runtimeConfig) error {
	return s.out.print(ans.Body, func(w io.Writer) error { return configTable(w, c) })
}

func configTable(w io.Writer, c *runtimeConfig) error {
	t := newTable(w, "KEY", "VALUE")
	t.row("enableElectUncleanMaster", strconv.FormatBool(c.EnableElectUncleanMaster))
	t.row("paused", strconv.FormatBool(c.Paused))
	t.row("pausedGroups", list(c.PausedGroups))
	t.row("defaultHeartbeatTimeoutMs", id(c.DefaultHeartbeatTimeoutMs))
	return t.flush()
}
