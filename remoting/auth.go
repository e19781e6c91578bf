package remoting

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/auth"
)

// RocketMQ's ACL: a client with credentials (a stock broker with
// innerClientAuthenticationCredentials, mqadmin with its access key) adds
// AccessKey to every request's extFields and then Signature: the base64
// HMAC-SHA1, keyed by its secret, of the values of every extFields entry
// but Signature in key order, followed by the body.
const (
	accessKeyField     = "AccessKey"
	signatureField     = "Signature"
	securityTokenField = "SecurityToken"
)

// Authenticator recognises a request's caller.
type Authenticator interface {
	// Verify returns the caller of a correctly signed request.
	Verify(req *Command) (*auth.Principal, error)
}

// Refusals of Verify.
var (
	ErrNoSignature  = errors.New("no AccessKey and Signature")
	ErrBadSignature = errors.New("unknown AccessKey or wrong Signature")
)

func authReason(err error) string {
	switch {
	case errors.Is(err, ErrNoSignature):
		return "missing"
	case errors.Is(err, ledgerless.ErrForbidden):
		return "forbidden"
	}
	return "invalid"
}

// signature computes a request's ACL signature with secret.
func signature(req *Command, secret string) string {
	keys := make([]string, 0, len(req.Ext))
	for _, kv := range req.Ext {
		if kv.Key != signatureField {
			keys = append(keys, kv.Key)
		}
	}
	slices.Sort(keys)
	mac := hmac.New(sha1.New, []byte(secret))
	for _, k := range keys {
		v, _ := req.Ext.Get(k)
		mac.Write([]byte(v))
	}
	mac.Write(req.Body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Sign signs req as a RocketMQ client with ACL credentials does; a Client
// whose Sign field calls it signs every request.
func Sign(req *Command, accessKey, secretKey string) {
	if req.Ext == nil {
		req.Ext = Fields{}
	}
	req.Ext.Set(accessKeyField, accessKey)
	req.Ext.Set(signatureField, signature(req, secretKey))
}

// ACL verifies signatures against the access keys of a credentials file.
type ACL struct{ Auth *auth.Authenticator }

// Verify implements Authenticator.
func (a ACL) Verify(req *Command) (*auth.Principal, error) {
	key, hasKey := req.Ext.Get(accessKeyField)
	sig, hasSig := req.Ext.Get(signatureField)
	if !hasKey || !hasSig {
		return nil, ErrNoSignature
	}
	p, secret, ok := a.Auth.Credentials().AccessKey(key)
	if !ok || !hmac.Equal([]byte(signature(req, secret)), []byte(sig)) {
		return nil, fmt.Errorf("%w (AccessKey %q)", ErrBadSignature, key)
	}
	return p, nil
}

// codeAccess is what each request code needs of its caller.
func codeAccess(req *Command) auth.Access {
	switch req.Code {
	case BrokerHeartbeat, AlterSyncStateSet, RegisterBroker, GetNextBrokerID, ApplyBrokerID:
		return auth.GroupWrite
	case GetReplicaInfo:
		return auth.GroupRead
	case ElectMaster:
		if designate, _ := req.Ext.Bool("designateElect"); designate {
			return auth.Admin
		}
		return auth.GroupWrite
	case GetSyncStateData, GetControllerConfig:
		return auth.Read
	case UpdateControllerConfig, CleanBrokerData:
		return auth.Admin
	}
	return auth.Authenticated
}

// authorize checks a request's signature and that its caller may make it;
// the error is the refusal's remark.
func (s *Server) authorize(ctx context.Context, req *Command) error {
	p, err := s.opts.Auth.Verify(req)
	if err != nil {
		return err
	}
	access := codeAccess(req)
	var g ledgerless.GroupKey
	if access == auth.GroupRead || access == auth.GroupWrite {
		name, _ := req.Ext.Get("brokerName")
		cluster, _ := req.Ext.Get("clusterName")
		g = ledgerless.GroupKey{Cluster: cluster, Group: name}
		if cluster == "" {
			if found, err := s.opts.Service.FindGroup(ctx, name); err == nil {
				g = found
			}
		}
	}
	if !p.Allows(access, g) {
		return fmt.Errorf("%w: %s (role %s) may not call %s%s", ledgerless.ErrForbidden, p.Name, p.Role, RequestName(req.Code),
			strings.TrimSuffix(" in "+g.String(), " in /"))
	}
	return nil
}
