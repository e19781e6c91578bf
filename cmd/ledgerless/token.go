package main

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ledgerless/ledgerless/auth"
)

// minTokenLen is the shortest token worth hashing: shorter ones can be
// guessed from their hash.
const minTokenLen = 16

func newToken() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Make API tokens and their hashes for the credentials file (serve --auth-file)"}
	cmd.AddCommand(&cobra.Command{
		Use:   "hash",
		Short: "Print the sha256 of a token read from standard input",
		Long: `Print the sha256 that the credentials file stores for a token. The token
is read from standard input (one line), so that it stays out of the shell
history and the process list.`,
		Example: `  ledgerless token hash < broker.token`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
			token := strings.TrimRight(line, "\r\n")
			if token == "" && err != nil {
				return errors.New("no token on standard input")
			}
			if len(token) < minTokenLen || strings.ContainsAny(token, " \t") {
				return fmt.Errorf("a token must be at least %d characters without spaces (ledgerless token new makes one)", minTokenLen)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), auth.HashToken(token))
			return err
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "new",
		Short: "Print a new random token, and its sha256 on standard error",
		Example: `  ledgerless token new > broker.token   # the hash is printed on the terminal
  ledgerless token hash < broker.token  # the same hash, again`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			token := rand.Text() + rand.Text() // 2 × 128 random bits
			fmt.Fprintln(cmd.ErrOrStderr(), "sha256:", auth.HashToken(token))
			_, err := fmt.Fprintln(cmd.OutOrStdout(), token)
			return err
		},
	})
	return cmd
}
