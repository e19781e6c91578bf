package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// process is a program the tests run in a process group of its own,
// which can be killed, stopped, continued and started again with the same
// arguments. Its output goes to a file whose end is shown when the test
// fails. It is killed when the test ends, whatever happened.
type process struct {
	name string
	argv []string
	logf string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the running incarnation exited
	err  error         // its exit status
}

// newProcess starts argv as name.
func newProcess(t *testing.T, dir, name string, argv ...string) *process {
	t.Helper()
	p := &process{name: name, argv: argv, logf: filepath.Join(dir, name+".log")}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- end of %s's output (%s):\n%s", name, strings.Join(argv, " "), tail(p.logf, 30))
		}
	})
	p.start(t)
	return p
}

// start runs the process (again).
func (p *process) start(t *testing.T) {
	t.Helper()
	out, err := os.OpenFile(p.logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	fmt.Fprintf(out, "=== %s start: %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(p.argv, " "))
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.err = cmd, done, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
}

// running reports whether the last start is still running.
func (p *process) running() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// signal sends sig to the process's group.
func (p *process) signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}

// stopped reports whether every thread of the process is stopped, as
// SIGSTOP leaves it once the kernel delivered it to each (Linux).
func (p *process) stopped() bool {
	p.mu.Lock()
	pid := p.cmd.Process.Pid
	p.mu.Unlock()
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		return false
	}
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		// pid (comm) state ...: the state follows the last ')'.
		i := strings.LastIndexByte(string(data), ')')
		if i < 0 || i+2 >= len(data) || (data[i+2] != 'T' && data[i+2] != 't') {
			return false
		}
	}
	return true
}

// kill kills the process group at once, as kill -9 does, and waits until
// the process is gone. A stopped process is killed as well.
func (p *process) kill() {
	if !p.running() {
		return
	}
	p.signal(syscall.SIGKILL)
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	<-done
}

// stop sends SIGTERM and requires a clean exit within within.
func (p *process) stop(within time.Duration) error {
	p.signal(syscall.SIGTERM)
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	select {
	case <-done:
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.err != nil {
			return fmt.Errorf("%s: exit after SIGTERM: %w", p.name, p.err)
		}
		return nil
	case <-time.After(within):
		p.kill()
		return fmt.Errorf("%s: no exit within %s of SIGTERM", p.name, within)
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	out, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return lastLines(out, n)
}
