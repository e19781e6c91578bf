package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ledgerless/ledgerless/brokersim"
)

// brokerProc is a `brokersim serve` child process: a real broker, whose
// process the failovers kill (kill -9) or freeze (SIGSTOP).
type brokerProc struct {
	name string
	addr string // its HTTP (and NOTIFY) address
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startBroker starts binary's `serve` as broker name, with its data and
// log in dir, listening on a free port, with args added.
func startBroker(binary, dir, name string, args ...string) (*brokerProc, error) {
	b := &brokerProc{name: name, addr: freeAddr(), log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out, err := os.Create(b.log)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own descriptor
	args = append([]string{"serve", "--listen", b.addr, "--data-dir", filepath.Join(dir, name)}, args...)
	b.cmd = exec.Command(binary, args...)
	b.cmd.Stdout, b.cmd.Stderr = out, out
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start broker %s: %w", name, err)
	}
	go func() {
		_ = b.cmd.Wait()
		close(b.done)
	}()
	return b, nil
}

// status reads the broker's own view of its role.
func (b *brokerProc) status(ctx context.Context) (brokersim.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	return brokersim.ReadStatus(ctx, http.DefaultClient, b.addr)
}

// signal sends sig and returns when it was sent.
func (b *brokerProc) signal(sig syscall.Signal) (time.Time, error) {
	at := time.Now()
	return at, b.cmd.Process.Signal(sig)
}

// kill kills the broker (it may be stopped) and waits for its exit. It
// is safe to call more than once.
func (b *brokerProc) kill() {
	select {
	case <-b.done:
		return
	default:
	}
	_ = b.cmd.Process.Kill()
	<-b.done
}

// exited returns an error with the broker's log if it has exited.
func (b *brokerProc) exited() error {
	select {
	case <-b.done:
		out, _ := os.ReadFile(b.log)
		if len(out) > 4<<10 {
			out = out[len(out)-4<<10:]
		}
		return fmt.Errorf("broker %s exited:\n%s", b.name, out)
	default:
		return nil
	}
}

// awaitStatus polls the broker's status every 5 ms until cond holds, and
// returns when it first saw that.
func (b *brokerProc) awaitStatus(ctx context.Context, cond func(brokersim.Status) bool) (time.Time, error) {
	for {
		if s, err := b.status(ctx); err == nil && cond(s) {
			return time.Now(), nil
		}
		if err := b.exited(); err != nil {
			return time.Time{}, err
		}
		select {
		case <-ctx.Done():
			return time.Time{}, errors.Join(fmt.Errorf("broker %s", b.name), ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
