// Command ledgerless is the ledgerless controller: `ledgerless serve` runs
// a controller replica; the other subcommands are the operator CLI.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ledgerless/ledgerless/cli"
	"github.com/ledgerless/ledgerless/cmd/internal/settings"
)

// version is set at build time with -ldflags "-X main.version=..."; else
// it comes from what the Go toolchain recorded (settings.Version).
var version = "dev"

func init() { version = settings.Version(version) }

func main() { os.Exit(run()) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRoot().ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
	}
	return cli.ExitCode(err)
}
