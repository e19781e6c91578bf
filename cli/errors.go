package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes of the CLI. Every error a command returns carries one through
// (*Error).ExitCode; an error without one means ExitFailure.
const (
	ExitOK          = 0
	ExitFailure     = 1 // unclassified, or a confirmation answered "no"
	ExitUsage       = 2 // bad arguments or flags
	ExitRefused     = 3 // the controller refused the request (a 4xx answer)
	ExitUnavailable = 4 // no controller answered: unreachable, 5xx or timeout
)

// Class is why a command failed; it decides the exit code.
type Class int

// The classes of failure.
const (
	Usage       Class = iota + 1 // bad arguments or flags
	Refused                      // the controller answered 4xx
	Unavailable                  // unreachable, 5xx, timeout, or an answer that makes no sense
	Aborted                      // the operator did not confirm
)

// Error is a failed command: the class of the failure and its cause. A
// refusal's cause is the controller's *client.Problem.
type Error struct {
	Class Class
	Err   error
}

func (e *Error) Error() string { return e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// ExitCode is the process exit code for the error's class.
func (e *Error) ExitCode() int {
	switch e.Class {
	case Usage:
		return ExitUsage
	case Refused:
		return ExitRefused
	case Unavailable:
		return ExitUnavailable
	}
	return ExitFailure
}

// ExitCode returns the exit code for err: ExitOK for nil, the class's code
// for an *Error anywhere in err's chain, ExitFailure otherwise.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.ExitCode()
	}
	return ExitFailure
}

// usageError is a Usage error about cmd, with a pointer to its help.
func usageError(cmd *cobra.Command, format string, args ...any) error {
	return &Error{Class: Usage, Err: fmt.Errorf(format+"\nRun '%s --help' for usage.",
		append(args, cmd.CommandPath())...)}
}

// flagError makes cobra's flag parsing errors usage errors.
func flagError(cmd *cobra.Command, err error) error {
	return usageError(cmd, "%s", err)
}

// unavailable is an Unavailable error.
func unavailable(format string, args ...any) error {
	return &Error{Class: Unavailable, Err: fmt.Errorf(format, args...)}
}

// exactArgs requires exactly the named positional arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		if len(args) < len(names) {
			return usageError(cmd, "missing %s", strings.Join(names[len(args):], " and "))
		}
		return usageError(cmd, "unexpected argument %q", args[len(names)])
	}
}

// noneOrBoth accepts either no positional arguments or both names.
func noneOrBoth(a, b string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch len(args) {
		case 0, 2:
			return nil
		case 1:
			return usageError(cmd, "missing %s: give both %s and %s, or neither", b, a, b)
		}
		return usageError(cmd, "unexpected argument %q", args[2])
	}
}

// subcommands refuses positional arguments that name no subcommand of a
// command that only groups others.
func subcommands(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // as cobra's own suggestions
	}
	hint := ""
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		hint = fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return usageError(cmd, "unknown command %q for %q%s", args[0], cmd.CommandPath(), hint)
}
