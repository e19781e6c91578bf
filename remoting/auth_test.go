package remoting

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ledgerless/ledgerless/auth"
	"github.com/ledgerless/ledgerless/store/storetest"
)

const credentialsYAML = `accessKeys:
  - {name: brokers-c1, role: broker, accessKey: brokers, secretKey: b-secret, clusters: [c1]}
  - {name: ops, role: admin, accessKey: ops, secretKey: o-secret}
  - {name: dashboard, role: reader, accessKey: dash, secretKey: d-secret}
`

// TestACLSignatures: with authentication on, every remoting request must
// carry a valid ACL signature of an access key whose role and scope allow
// it; anything else is NO_PERMISSION, counted and changing nothing.
func TestACLSignatures(t *testing.T) {
	file := filepath.Join(t.TempDir(), "credentials.yaml")
	if err := os.WriteFile(file, []byte(credentialsYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := auth.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	obs := &recordingObserver{requests: map[[2]string]int{}, auth: map[string]int{}}
	c := startController(t, storetest.Prefix(t), "r1", func(o *Options) { o.Auth, o.Observer = ACL{Auth: a}, obs })
	next := func(cluster string) *Command {
		return Request(GetNextBrokerID, Fields{{"clusterName", cluster}, {"brokerName", "g1"}}, nil)
	}
	signedBy := func(key, secret string) *Client {
		cl := dial(t, c.addr)
		cl.Sign = func(req *Command) { Sign(req, key, secret) }
		return cl
	}
	broker, admin, reader, plain := signedBy("brokers", "b-secret"), signedBy("ops", "o-secret"), signedBy("dash", "d-secret"), dial(t, c.addr)
	wrong := signedBy("brokers", "guess")
	for _, tc := range []struct {
		name string
		cl   *Client
		req  *Command
		want int
	}{
		{"unsigned 1005", plain, Request(GetMetadataInfo, nil, nil), NoPermission},
		{"unsigned heartbeat's neighbour 1012", plain, next("c1"), NoPermission},
		{"wrong secret", wrong, next("c1"), NoPermission},
		{"broker in its cluster", broker, next("c1"), Success},
		{"broker outside its scope", broker, next("c2"), NoPermission},
		{"broker changing the config", broker, Request(UpdateControllerConfig, nil, []byte("enableElectUncleanMaster=true\n")), NoPermission},
		{"reader reading sync state", reader, Request(GetSyncStateData, nil, []byte(`["g1"]`)), Success},
		{"reader changing the config", reader, Request(UpdateControllerConfig, nil, []byte("enableElectUncleanMaster=true\n")), NoPermission},
		{"admin changing the config", admin, Request(UpdateControllerConfig, nil, []byte("paused=false\n")), Success},
		{"admin's signature on another body", plain, tampered(Request(UpdateControllerConfig, nil, []byte("paused=false\n")), "ops", "o-secret"), NoPermission},
	} {
		if got := invoke(t, tc.cl, tc.req); got.Code != tc.want {
			t.Errorf("%s: %s (%q), want %s", tc.name, ResponseName(got.Code), got.Remark, ResponseName(tc.want))
		}
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.auth["missing"] != 2 || obs.auth["invalid"] != 2 || obs.auth["forbidden"] != 3 {
		t.Errorf("refusals counted %v, want 2 missing, 2 invalid, 3 forbidden", obs.auth)
	}
}

// tampered returns req signed, then given another body (sent by a client
// that does not sign again).
func tampered(req *Command, key, secret string) *Command {
	Sign(req, key, secret)
	req.Body = []byte("paused=true\n")
	return req
}

// TestSignatureLayout: the signed content is the extFields values in key
// order (Java's TreeMap: AccessKey sorts before lower-case keys), then the
// body; the expected value was computed independently (Python's hmac).
func TestSignatureLayout(t *testing.T) {
	req := Request(GetNextBrokerID, Fields{{"clusterName", "c1"}, {"brokerName", "g1"}}, []byte(`["g1"]`))
	Sign(req, "ak", "sk")
	if got, _ := req.Ext.Get("Signature"); got != "zYoZNhz8pPuP60TyO+sUhkiWjG0=" {
		t.Errorf("signature %q", got)
	}
}
