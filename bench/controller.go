package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ledgerless/ledgerless/client"
)

// controller is a `ledgerless serve` child process: a controller replica
// run exactly as an operator runs one, so that its memory and CPU are its
// own and not the load generator's.
type controller struct {
	id   string
	url  string // base URL of its REST API
	etcd string // client URL of the etcd it uses
	cmd  *exec.Cmd
	log  string // file of its output, shown when it fails
	done chan struct{}
	err  error // the process's exit, once done is closed
}

// startController starts a replica of binary in dir. With no etcd it runs
// an embedded etcd member (the production default); otherwise it uses
// that etcd; extra are more flags. It returns once the replica answers
// /readyz.
func startController(ctx context.Context, binary, dir, id, etcd string, extra ...string) (*controller, error) {
	listen := freeAddr()
	// --max-long-polls 0: --pollers, not the replica's default bound,
	// decides how many long polls wait.
	// --remoting-advertise: 1005 names this address as the leader's, which
	// RocketMQ-protocol brokers then call.
	args := []string{"serve", "--listen", listen, "--replica-id", id, "--data-dir", filepath.Join(dir, id), "--log-level", "warn",
		"--max-long-polls", "0", "--remoting-advertise", listen}
	c := &controller{id: id, url: "http://" + listen, etcd: etcd, log: filepath.Join(dir, id+".log"), done: make(chan struct{})}
	if etcd == "" {
		c.etcd = "http://" + freeAddr()
		args = append(args, "--embedded-client-url", c.etcd, "--embedded-peer-url", "http://"+freeAddr())
	} else {
		args = append(args, "--etcd-endpoints", etcd)
	}
	args = append(args, extra...)
	out, err := os.Create(c.log)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own descriptor
	c.cmd = exec.Command(binary, args...)
	c.cmd.Stdout, c.cmd.Stderr = out, out
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start controller %s: %w", id, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	if err := c.ready(ctx, time.Minute); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// ready waits until the replica answers /readyz.
func (c *controller) ready(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if client.Ready(ctx, http.DefaultClient, c.url) {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("controller %s exited: %v\n%s", c.id, c.err, c.output())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("controller %s not ready after %s\n%s", c.id, timeout, c.output())
		}
	}
}

// stop asks the replica to shut down (SIGTERM) and kills it if it has not
// exited within 15 s. It is safe to call more than once.
func (c *controller) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// alive returns an error, with the replica's log, if it has exited.
func (c *controller) alive() error {
	select {
	case <-c.done:
		return fmt.Errorf("controller %s exited: %v\n%s", c.id, c.err, c.output())
	default:
		return nil
	}
}

// metrics scrapes the replica's own Prometheus metrics.
func (c *controller) metrics(ctx context.Context) (metrics, error) {
	return scrape(ctx, c.url+"/metrics")
}

// etcdMetrics scrapes the metrics of the etcd the replica uses.
func (c *controller) etcdMetrics(ctx context.Context) (metrics, error) {
	return scrape(ctx, c.etcd+"/metrics")
}

// metrics are Prometheus samples by series ("name" or `name{labels}`).
type metrics map[string]float64

// sum adds every series of metric name.
func (m metrics) sum(name string) float64 {
	var total float64
	for series, v := range m {
		if series == name || strings.HasPrefix(series, name+"{") {
			total += v
		}
	}
	return total
}

// scrape reads a Prometheus text exposition.
func scrape(ctx context.Context, url string) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

func parseMetrics(r io.Reader) (metrics, error) {
	m := metrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m, sc.Err()
}

// freeAddr returns a 127.0.0.1 address whose port was free just now.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("no free port on 127.0.0.1: %v", err))
	}
	defer l.Close()
	return l.Addr().String()
}

// output is the beginning of the replica's log, where failures show.
func (c *controller) output() string {
	f, err := os.Open(c.log)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 64<<10))
	return string(b)
}

// replicas returns the three controller replicas of the RocketMQ phases:
// the first one, and two more on its etcd, started on first use, as a
// stock broker's controllerAddr lists three.
func (r *runner) replicas(ctx context.Context) ([]*controller, error) {
	for len(r.more) < 2 {
		id := fmt.Sprintf("bench-%d", len(r.more)+2)
		r.step("starting controller replica %s on the first one's etcd", id)
		ctl, err := startController(ctx, r.cfg.Binary, r.dir, id, r.ctl.etcd)
		if err != nil {
			return nil, err
		}
		r.more = append(r.more, ctl)
	}
	return append([]*controller{r.ctl}, r.more...), nil
}

// stopReplicas stops the replicas that replicas started.
func (r *runner) stopReplicas() {
	for _, c := range r.more {
		c.stop()
	}
	r.more = nil
}

// remotingAddr is the host:port where the replica serves RocketMQ's
// protocol: its REST port.
func (c *controller) remotingAddr() string { return strings.TrimPrefix(c.url, "http://") }
