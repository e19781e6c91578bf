package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ledgerless/ledgerless/remoting"
)

// RemotingOff turns RocketMQ's remoting protocol off.
const RemotingOff = "off"

// Remoting says where a replica serves RocketMQ's remoting protocol, for
// stock brokers and mqadmin.
type Remoting struct {
	// Listen is "" to share the REST port (the default: a broker whose
	// controllerAddr lists the replicas' --listen addresses just works),
	// "off", or an address of its own.
	Listen string
	// Advertise is the host:port brokers reach this replica's remoting
	// protocol at, reported as the controller leader's address; default:
	// the replica id with the remoting port.
	Advertise string
}

func (r *Remoting) shared() bool { return r.Listen == "" }
func (r *Remoting) off() bool    { return r.Listen == RemotingOff }

func (r *Remoting) describe() string {
	switch {
	case r.shared():
		return "on the REST port"
	case r.off():
		return RemotingOff
	}
	return r.Listen
}

func (r *Remoting) validate(listen, replica string) error {
	port := ""
	switch {
	case r.off():
		return nil
	case r.shared():
		_, port, _ = net.SplitHostPort(listen)
	default:
		var err error
		if _, port, err = net.SplitHostPort(r.Listen); err != nil || port == "" {
			return fmt.Errorf("remoting-listen %q: want host:port, :port, or off", r.Listen)
		}
		if r.Listen == listen {
			return fmt.Errorf("remoting-listen %q is --listen; leave it empty to share the REST port", r.Listen)
		}
	}
	if r.Advertise == "" {
		r.Advertise = net.JoinHostPort(replica, port)
	}
	if host, p, err := net.SplitHostPort(r.Advertise); err != nil || host == "" || p == "" {
		return fmt.Errorf("remoting-advertise %q: want host:port", r.Advertise)
	}
	return nil
}

// listeners returns the goroutines that serve HTTP and remoting on the
// configured listeners.
func listeners(cfg Config, ln net.Listener, srv *http.Server, rsrv *remoting.Server, log *slog.Logger) (serveHTTP, serveRemoting func() error, err error) {
	httpDone := func(err error) error {
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	}
	serveRemoting = func() error { return nil }
	if cfg.Remoting.shared() {
		tlsConfig := srv.TLSConfig
		if tlsConfig != nil {
			// net/http serves h2 on the connections it is handed when the
			// configuration offers it.
			tlsConfig = tlsConfig.Clone()
			tlsConfig.NextProtos = []string{"h2", "http/1.1"}
			srv.TLSConfig = tlsConfig
		}
		mux := newPortMux(ln, tlsConfig, rsrv.Go, log, min(10*time.Second, cfg.Limits.ReadTimeout))
		serveRemoting = mux.Run
		return func() error { return httpDone(srv.Serve(mux)) }, serveRemoting, nil
	}
	serveHTTP = func() error {
		if srv.TLSConfig != nil {
			return httpDone(srv.ServeTLS(ln, "", ""))
		}
		return httpDone(srv.Serve(ln))
	}
	if cfg.Remoting.off() {
		return serveHTTP, serveRemoting, nil
	}
	rln, err := net.Listen("tcp", cfg.Remoting.Listen)
	if err != nil {
		_ = ln.Close()
		return nil, nil, fmt.Errorf("remoting listen: %w", err)
	}
	if srv.TLSConfig != nil {
		rln = tls.NewListener(rln, srv.TLSConfig)
	}
	serveRemoting = func() error { return rsrv.Serve(rln) }
	return serveHTTP, serveRemoting, nil
}
