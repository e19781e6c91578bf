package server

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ledgerless/ledgerless/internal/certtest"
	"github.com/ledgerless/ledgerless/remoting"
	"github.com/ledgerless/ledgerless/store/storetest"
)

func metadata(t *testing.T, conn net.Conn) *remoting.Command {
	t.Helper()
	c := remoting.NewClient(conn)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, remoting.Request(remoting.GetMetadataInfo, nil, nil))
	if err != nil {
		t.Fatalf("1005: %v", err)
	}
	return resp
}

// TestRemotingSharesThePort: by default the --listen port serves REST and
// RocketMQ's remoting protocol alike, and 1005 names the replica's
// advertised remoting address.
func TestRemotingSharesThePort(t *testing.T) {
	cfg := testConfig(t)
	cfg.Remoting.Advertise = "controller-1:9878"
	run(t, cfg, http.DefaultClient)
	conn, err := net.Dial("tcp", cfg.Listen)
	if err != nil {
		t.Fatal(err)
	}
	resp := metadata(t, conn)
	if addr, _ := resp.Ext.Get("controllerLeaderAddress"); resp.Code != remoting.Success || addr != "controller-1:9878" {
		t.Errorf("1005 answered %+v", resp)
	}
	if status, err := get(t, http.DefaultClient, "http://"+cfg.Listen+"/v1/clusters", ""); err != nil || status != http.StatusOK {
		t.Errorf("REST on the shared port: %d %v", status, err)
	}
}

// TestRemotingSharesTheTLSPort: with TLS, remoting clients (no ALPN) and
// HTTPS clients (HTTP/2 by ALPN, or HTTP/1.1 without) share the port,
// and client certificates are required of both.
func TestRemotingSharesTheTLSPort(t *testing.T) {
	ca := certtest.NewCA(t, "api")
	cfg := testConfig(t)
	srv := ca.Issue(t, "controller", "127.0.0.1")
	cfg.TLS = TLS{CertFile: srv.CertFile, KeyFile: srv.KeyFile, ClientCAFile: ca.File}
	good := ca.Issue(t, "anyone")
	run(t, cfg, client(ca, &good, nil))
	tlsConn := func(cert *certtest.Pair) (net.Conn, error) {
		c := &tls.Config{RootCAs: ca.Pool()}
		if cert != nil {
			c.Certificates = []tls.Certificate{cert.TLS}
		}
		conn, err := tls.Dial("tcp", cfg.Listen, c)
		if err != nil {
			return nil, err
		}
		return conn, conn.Handshake()
	}
	conn, err := tlsConn(&good)
	if err != nil {
		t.Fatal(err)
	}
	if resp := metadata(t, conn); resp.Code != remoting.Success {
		t.Errorf("1005 over TLS: %+v", resp)
	}
	if conn, err := tlsConn(nil); err == nil {
		c := remoting.NewClient(conn)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := c.Invoke(ctx, remoting.Request(remoting.GetMetadataInfo, nil, nil)); err == nil {
			t.Error("a remoting client without a certificate was answered")
		}
		cancel()
		_ = c.Close()
	}
	if plain, err := net.Dial("tcp", cfg.Listen); err == nil {
		c := remoting.NewClient(plain)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if _, err := c.Invoke(ctx, remoting.Request(remoting.GetMetadataInfo, nil, nil)); err == nil {
			t.Error("plain remoting answered on the TLS port")
		}
		cancel()
		_ = c.Close()
	}
	url := "https://" + cfg.Listen + "/v1/clusters"
	if status, err := get(t, client(ca, &good, nil), url, ""); err != nil || status != http.StatusOK {
		t.Errorf("HTTPS/1.1 on the shared port: %d %v", status, err)
	}
	h2 := client(ca, &good, nil)
	h2.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	resp, err := h2.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2", resp.Proto)
	}
}

// TestRemotingPortOfItsOwnOrOff: --remoting-listen moves remoting to its
// own port (the REST port then serves HTTP only), and off turns it off.
func TestRemotingPortOfItsOwnOrOff(t *testing.T) {
	cfg := testConfig(t)
	cfg.Remoting.Listen = storetest.FreeAddr()
	run(t, cfg, http.DefaultClient)
	conn, err := net.Dial("tcp", cfg.Remoting.Listen)
	if err != nil {
		t.Fatal(err)
	}
	resp := metadata(t, conn)
	_, port, _ := net.SplitHostPort(cfg.Remoting.Listen)
	if addr, _ := resp.Ext.Get("controllerLeaderAddress"); addr != net.JoinHostPort("r1", port) {
		t.Errorf("controllerLeaderAddress %q", addr)
	}
	off := testConfig(t)
	off.Remoting.Listen = RemotingOff
	run(t, off, http.DefaultClient)
	for _, addr := range []string{cfg.Listen, off.Listen} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c := remoting.NewClient(conn)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if resp, err := c.Invoke(ctx, remoting.Request(remoting.GetMetadataInfo, nil, nil)); err == nil {
			t.Errorf("%s answered remoting: %+v", addr, resp)
		}
		cancel()
		_ = c.Close()
	}
}
