package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/ledgerless/ledgerless/client"
)

// Long polls of --watch wait as the SDK's do (client.DefaultPollWait).
// minPollInterval spaces out polls that come back at once without a
// change, as from a replica that is shutting down. A poll that gets no
// usable answer (every controller restarting, say) is sent again after a
// backoff from minRetry to maxRetry, with jitter, as the SDK's are; the
// transport tries the next --controller each time.
const (
	minPollInterval = time.Second
	minRetry        = 100 * time.Millisecond
	maxRetry        = 3 * time.Second
)

// watchGroup prints group args[1] of cluster args[0], then again on every
// change, until ctx ends; ending that way is success. Each poll may take
// the wait plus --timeout.
func watchGroup(ctx context.Context, s *session, args []string) error {
	w := &watcher{s: s, cluster: args[0], group: args[1]}
	err := w.run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// watcher follows one group by long polls on its index.
type watcher struct {
	s              *session
	cluster, group string
	index          int64 // of the last state shown
	shown          int   // states shown
}

func (w *watcher) run(ctx context.Context) error {
	g, ans, err := w.poll(ctx, -1)
	if err != nil {
		return err
	}
	if err := w.show(g, ans); err != nil {
		return err
	}
	retry := minRetry
	failing := false
	for {
		sent := time.Now()
		g, ans, err := w.poll(ctx, w.index)
		if err != nil {
			if ctx.Err() != nil || classOf(err) != Unavailable {
				return err
			}
			if !failing {
				fmt.Fprintf(w.s.stderr, "%s no answer, retrying until a controller answers: %v\n", timestamp(time.Now()), err)
				failing = true
			}
			if err := pause(ctx, jitter(retry)); err != nil {
				return err
			}
			retry = min(2*retry, maxRetry)
			continue
		}
		if failing {
			fmt.Fprintf(w.s.stderr, "%s a controller answers again\n", timestamp(time.Now()))
			failing, retry = false, minRetry
		}
		if next, _ := ans.Index(); next > w.index {
			if err := w.show(g, ans); err != nil {
				return err
			}
			continue
		}
		if err := pause(ctx, minPollInterval-time.Since(sent)); err != nil {
			return err
		}
	}
}

// poll reads the group: at once for a negative index, else as soon as
// its index passes index, or after client.DefaultPollWait.
func (w *watcher) poll(ctx context.Context, index int64) (*client.Group, *client.Answer, error) {
	limit := w.s.timeout
	if index >= 0 {
		limit += client.DefaultPollWait
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	return w.s.client.pollGroup(ctx, w.cluster, w.group, index)
}

// show prints one state of the group and remembers its index.
func (w *watcher) show(g *client.Group, ans *client.Answer) error {
	index, err := ans.Index()
	if err != nil {
		return err
	}
	w.index = index
	w.shown++
	return w.s.out.print(ans.Body, func(out io.Writer) error {
		if w.shown > 1 {
			fmt.Fprintln(out)
		}
		fmt.Fprintf(out, "--- index %d at %s\n", index, timestamp(time.Now()))
		return groupTable(out, g)
	})
}

// jitter is d give or take a fifth, so that watchers do not retry in step.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)*2/5+1)) - d/5
}

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// classOf is err's Class, 0 for an error of no class.
func classOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return 0
}
