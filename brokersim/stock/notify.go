package stock

import (
	"bufio"
	"context"
	"net"
	"time"

	"github.com/ledgerless/ledgerless/remoting"
)

// ServeConn serves a remoting connection to the broker's listen port, as
// AdminBrokerProcessor does for the controller's requests: it takes
// NOTIFY_BROKER_ROLE_CHANGED (1008) from any peer, acting on it only when
// it names a master at a masterEpoch above the broker's, and answers
// other requests REQUEST_CODE_NOT_SUPPORTED. It returns when the peer
// closes the connection, a frame is bad, or ctx ends; it closes conn.
func (b *Broker) ServeConn(ctx context.Context, conn net.Conn) {
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		frame, err := remoting.ReadFrame(r, remoting.MaxFrame)
		if err != nil {
			return
		}
		req, err := remoting.Decode(frame)
		if err != nil {
			b.log.Warn("remoting: undecodable frame", "peer", conn.RemoteAddr().String(), "err", err)
			return
		}
		if req.IsResponse() {
			continue
		}
		resp := b.handle(req)
		if req.IsOneway() {
			continue
		}
		out, err := remoting.Encode(resp)
		if err != nil {
			return
		}
		_ = conn.SetWriteDeadline(time.Now().Add(rpcTimeout))
		if _, err := conn.Write(out); err != nil {
			return
		}
	}
}

func (b *Broker) handle(req *remoting.Command) *remoting.Command {
	if req.Code != remoting.NotifyBrokerRoleChanged {
		return req.Response(remoting.NotSupported, " request type "+remoting.RequestName(req.Code)+" not supported")
	}
	master, hasMaster := req.Ext.Int64("masterBrokerId")
	epoch, _ := req.Ext.Int64("masterEpoch")
	setEpoch, _ := req.Ext.Int64("syncStateSetEpoch")
	addr, _ := req.Ext.Get("masterAddress")
	var set remoting.SyncStateSetBody
	if err := remoting.DecodeBody(req.Body, &set); err != nil {
		return req.Response(remoting.SystemError, "notify without a SyncStateSet body: "+err.Error())
	}
	if !hasMaster {
		return req.Response(remoting.Success, "")
	}
	if b.changeRole(master, addr, epoch, set.SyncStateSet, setEpoch) {
		b.log.Info("notified of a role change", "masterEpoch", epoch, "master", master)
	}
	return req.Response(remoting.Success, "")
}
