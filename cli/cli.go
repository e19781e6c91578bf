// Package cli is ledgerless's operator command line, in the style of
// RocketMQ's mqadmin controller commands and patronictl: it reads and
// changes a controller through its REST API v1 (clusters, groups, brokers,
// elections, cleaning, history, runtime configuration, pause and resume),
// prints tables, JSON or YAML, and classifies every failure into an exit
// code (see Error). It talks HTTP only and needs nothing but the binary.
package cli

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ledgerless/ledgerless/client"
)

// Defaults of the global flags.
const (
	DefaultController = "http://127.0.0.1:9878"
	DefaultTimeout    = 10 * time.Second
	// ControllerEnv names the environment variable that replaces
	// DefaultController when --controller is not given.
	ControllerEnv = "LEDGERLESS_CONTROLLER"
)

// Options configure the CLI.
type Options struct {
	// Version is the binary's version, printed by `ledgerless version`.
	Version string
	// Getenv reads the environment; default os.Getenv.
	Getenv func(string) string
	// Terminal reports whether stdin is a terminal a person answers
	// confirmations on; default: it is an *os.File on a character device.
	Terminal func(stdin io.Reader) bool
	// HTTP sends the requests; default: a client of the transport's own.
	HTTP *http.Client
}

// app is the CLI: its options and the global flags' values.
type app struct {
	opts        Options
	controllers []string
	output      string
	timeout     time.Duration
	credentials credentials
}

// Register adds the CLI to root: every operator command with the CLI's
// flags --controller, -o/--output, --timeout, and the token and TLS flags
// (--token-file, --token, --cacert, --cert, --key), and usage errors
// (ExitUsage) for unknown commands and bad flags. The flags belong to the
// operator commands, not to root, so that root's other commands (serve)
// neither list nor take them. Commands print to root's out and err
// streams and read confirmations from its in stream.
func Register(root *cobra.Command, opts Options) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Terminal == nil {
		opts.Terminal = isTerminal
	}
	a := &app{opts: opts}
	// root takes them too, so that "ledgerless --controller URL grops"
	// is told about the command, but neither lists nor passes them on.
	a.flags(root.Flags())
	root.Flags().VisitAll(func(f *pflag.Flag) { f.Hidden = true })
	root.SetFlagErrorFunc(flagError)
	root.Args = subcommands
	if root.Run == nil && root.RunE == nil {
		root.RunE = help
	}
	for _, cmd := range []*cobra.Command{a.clustersCommand(), a.groupsCommand(), a.groupCommand(),
		a.electCommand(), a.cleanCommand(), a.historyCommand(), a.controllerCommand(),
		a.configCommand(), a.pauseCommand(), a.resumeCommand(), a.healthCommand(), a.versionCommand()} {
		a.flags(cmd.PersistentFlags())
		root.AddCommand(cmd)
	}
}

// flags defines the CLI's flags in f, on the app's variables: every
// operator command has its own copy of them.
func (a *app) flags(f *pflag.FlagSet) {
	f.StringSliceVar(&a.controllers, "controller", nil,
		"controller base URLs, comma-separated, tried in turn when one is unreachable, answers 5xx or does not answer in its share of --timeout (env "+
			ControllerEnv+"; default "+DefaultController+")")
	f.StringVarP(&a.output, "output", "o", formatTable, "output format: table, json or yaml")
	f.DurationVar(&a.timeout, "timeout", DefaultTimeout, "time limit of a command (with --watch: of each poll beyond its wait)")
	a.credentials.flags(f)
}

// help is the RunE of commands that only group others.
func help(cmd *cobra.Command, _ []string) error { return cmd.Help() }

// parent returns a command that only groups subs.
func parent(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: subcommands, RunE: help}
	cmd.AddCommand(subs...)
	return cmd
}

// session is what one run of a command works with.
type session struct {
	client  *apiClient
	out     *printer
	stdin   io.Reader
	stderr  io.Writer
	timeout time.Duration
	// terminal says that stdin is a person's terminal.
	terminal bool
}

// session resolves the global flags for cmd, whose requests go to
// --controller.
func (a *app) session(cmd *cobra.Command) (*session, error) {
	return a.sessionOn(cmd, "--controller", a.controllerURLs())
}

// sessionOn resolves the global flags for cmd, whose requests go to
// controllers, as given by flag.
func (a *app) sessionOn(cmd *cobra.Command, flag string, controllers []string) (*session, error) {
	if !validFormat(a.output) {
		return nil, usageError(cmd, "--output %q: want table, json or yaml", a.output)
	}
	if a.timeout <= 0 {
		return nil, usageError(cmd, "--timeout %s: must be positive", a.timeout)
	}
	opts, err := a.transportOptions(cmd, controllers)
	if err != nil {
		return nil, err
	}
	api, err := newAPIClient(opts)
	if errors.Is(err, client.ErrControllerURL) {
		return nil, usageError(cmd, "%s: %s", flag, err)
	}
	if err != nil {
		return nil, usageError(cmd, "%s", err)
	}
	return &session{client: api, out: &printer{w: cmd.OutOrStdout(), format: a.output},
		stdin: cmd.InOrStdin(), stderr: cmd.ErrOrStderr(), timeout: a.timeout,
		terminal: a.opts.Terminal(cmd.InOrStdin())}, nil
}

// controllerURLs are --controller's URLs, else the environment's, else the
// default.
func (a *app) controllerURLs() []string {
	urls := a.controllers
	if len(urls) == 0 {
		urls = strings.Split(a.opts.Getenv(ControllerEnv), ",")
	}
	var out []string
	for _, u := range urls {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	if len(out) == 0 {
		return []string{DefaultController}
	}
	return out
}

// runFunc is the body of a command.
type runFunc func(ctx context.Context, s *session, args []string) error

// run makes the RunE of a command whose whole run --timeout bounds.
func (a *app) run(fn runFunc) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := a.session(cmd)
		if err != nil {
			return err
		}
		return s.bounded(cmd.Context(), fn, args)
	}
}

// bounded runs fn within --timeout.
func (s *session) bounded(ctx context.Context, fn runFunc, args []string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.classify(fn(ctx, s, args))
}

// runLong makes the RunE of a command that runs until its context ends
// and bounds its own requests.
func (a *app) runLong(fn runFunc) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := a.session(cmd)
		if err != nil {
			return err
		}
		return s.classify(fn(cmd.Context(), s, args))
	}
}

// classify names --timeout in a timeout's message.
func (s *session) classify(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return unavailable("no answer within %s (--timeout): %w", s.timeout, err)
	}
	return err
}

// isTerminal reports whether stdin is a character device, as a terminal is.
func isTerminal(stdin io.Reader) bool {
	f, ok := stdin.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
