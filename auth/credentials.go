package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"sync/atomic"

	"sigs.k8s.io/yaml"

	"github.com/ledgerless/ledgerless"
)

// The credentials file, YAML. Tokens are stored as the hex SHA-256 of the
// token, never the token itself; certificates are matched by a URI SAN or
// the subject's common name. Unknown fields are errors, so that a typo
// cannot silently open or close a door.
//
//	tokens:
//	  - {name: ops, role: admin, sha256: 9f86d0...}
//	  - {name: brokers-c1, role: broker, sha256: 2c26b4..., clusters: [c1], groups: [c2/g1]}
//	certificates:
//	  - {name: broker-a, role: broker, commonName: broker-a.c1, clusters: [c1]}
//	  - {name: dashboard, role: reader, uri: "spiffe://example.org/dashboard"}
//	accessKeys:
//	  - {name: rocketmq-brokers, role: broker, accessKey: brokers, secretKey: s3cret, clusters: [DefaultCluster]}
//
// Access keys are RocketMQ's ACL credentials (AccessKey and SecretKey),
// with which stock brokers and mqadmin sign remoting requests. A
// signature is an HMAC of the request keyed by the secret, so the file
// holds the secret itself: keep it readable by the replica only.
type file struct {
	Tokens       []tokenEntry       `json:"tokens"`
	Certificates []certificateEntry `json:"certificates"`
	AccessKeys   []accessKeyEntry   `json:"accessKeys"`
}

type accessKeyEntry struct {
	entry
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

type entry struct {
	Name     string   `json:"name"`
	Role     Role     `json:"role"`
	Clusters []string `json:"clusters"`
	Groups   []string `json:"groups"` // cluster/group
}

type tokenEntry struct {
	entry
	SHA256 string `json:"sha256"`
}

type certificateEntry struct {
	entry
	CommonName string `json:"commonName"`
	URI        string `json:"uri"`
}

// Credentials are the callers of one version of the credentials file.
type Credentials struct {
	accessKeys map[string]accessKey
	tokens     []token
	byCN       map[string]*Principal
	byURI      map[string]*Principal
}

type accessKey struct {
	secret string
	p      *Principal
}

type token struct {
	hash [sha256.Size]byte
	p    *Principal
}

// Parse reads a credentials file's content.
func Parse(data []byte) (*Credentials, error) {
	var f file
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, err
	}
	c := &Credentials{byCN: map[string]*Principal{}, byURI: map[string]*Principal{}, accessKeys: map[string]accessKey{}}
	names := map[string]bool{}
	for i, t := range f.Tokens {
		p, err := t.principal(names)
		if err != nil {
			return nil, fmt.Errorf("tokens[%d]: %w", i, err)
		}
		h, err := hex.DecodeString(t.SHA256)
		if err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("tokens[%d] %q: sha256 must be 64 hex digits (ledgerless token hash prints them)", i, t.Name)
		}
		tok := token{p: p}
		copy(tok.hash[:], h)
		for _, other := range c.tokens {
			if other.hash == tok.hash {
				return nil, fmt.Errorf("tokens[%d] %q: same token as %q", i, t.Name, other.p.Name)
			}
		}
		c.tokens = append(c.tokens, tok)
	}
	for i, k := range f.AccessKeys {
		p, err := k.principal(names)
		if err != nil {
			return nil, fmt.Errorf("accessKeys[%d]: %w", i, err)
		}
		if k.AccessKey == "" || k.SecretKey == "" {
			return nil, fmt.Errorf("accessKeys[%d] %q: accessKey and secretKey are required", i, k.Name)
		}
		if other, dup := c.accessKeys[k.AccessKey]; dup {
			return nil, fmt.Errorf("accessKeys[%d] %q: same accessKey as %q", i, k.Name, other.p.Name)
		}
		c.accessKeys[k.AccessKey] = accessKey{secret: k.SecretKey, p: p}
	}
	for i, e := range f.Certificates {
		p, err := e.principal(names)
		if err != nil {
			return nil, fmt.Errorf("certificates[%d]: %w", i, err)
		}
		if (e.CommonName == "") == (e.URI == "") {
			return nil, fmt.Errorf("certificates[%d] %q: give exactly one of commonName and uri", i, e.Name)
		}
		subjects, key := c.byCN, e.CommonName
		if e.URI != "" {
			subjects, key = c.byURI, e.URI
		}
		if other, dup := subjects[key]; dup {
			return nil, fmt.Errorf("certificates[%d] %q: same subject as %q", i, e.Name, other.Name)
		}
		subjects[key] = p
	}
	return c, nil
}

// principal checks an entry and returns its caller; names are the entry
// names seen so far, which must be unique.
func (e entry) principal(names map[string]bool) (*Principal, error) {
	if e.Name == "" {
		return nil, fmt.Errorf("name is required")
	}
	if names[e.Name] {
		return nil, fmt.Errorf("name %q is used twice", e.Name)
	}
	names[e.Name] = true
	p := &Principal{Name: e.Name, Role: e.Role, Clusters: e.Clusters}
	switch e.Role {
	case RoleAdmin, RoleReader:
		if len(e.Clusters)+len(e.Groups) > 0 {
			return nil, fmt.Errorf("%q: clusters and groups scope brokers only; role %s may act everywhere", e.Name, e.Role)
		}
		return p, nil
	case RoleBroker:
	default:
		return nil, fmt.Errorf("%q: role %q: want admin, reader or broker", e.Name, e.Role)
	}
	if len(e.Clusters)+len(e.Groups) == 0 {
		return nil, fmt.Errorf("%q: a broker needs clusters or groups (clusters: [%q] for every cluster)", e.Name, AnyCluster)
	}
	for _, c := range e.Clusters {
		if c != AnyCluster {
			if err := ledgerless.ValidateName("cluster", c); err != nil {
				return nil, fmt.Errorf("%q: %w", e.Name, err)
			}
		}
	}
	for _, g := range e.Groups {
		k, err := ledgerless.ParseGroupKey(g)
		if err != nil {
			return nil, fmt.Errorf("%q: groups: %w", e.Name, err)
		}
		p.Groups = append(p.Groups, k)
	}
	return p, nil
}

// Token returns the caller whose token this is. It compares the token's
// hash with every stored hash in constant time, so that the time taken
// says nothing about how close a guess came.
func (c *Credentials) Token(t string) (*Principal, bool) {
	h := sha256.Sum256([]byte(t))
	var found *Principal
	for _, tok := range c.tokens {
		if subtle.ConstantTimeCompare(h[:], tok.hash[:]) == 1 {
			found = tok.p
		}
	}
	return found, found != nil
}

// Certificate returns the caller a verified client certificate maps to:
// the first of its URI SANs that has an entry, else its subject's common
// name.
func (c *Credentials) Certificate(cert *x509.Certificate) (*Principal, bool) {
	for _, u := range cert.URIs {
		if p, ok := c.byURI[u.String()]; ok {
			return p, true
		}
	}
	p, ok := c.byCN[cert.Subject.CommonName]
	return p, ok && cert.Subject.CommonName != ""
}

// AccessKey returns the caller of a RocketMQ access key and its secret.
func (c *Credentials) AccessKey(key string) (p *Principal, secret string, ok bool) {
	k, ok := c.accessKeys[key]
	return k.p, k.secret, ok
}

// Counts says how many tokens and certificate subjects c knows.
func (c *Credentials) Counts() (tokens, certificates int) {
	return len(c.tokens), len(c.byCN) + len(c.byURI)
}

// HashToken returns what the credentials file stores for a token: the hex
// SHA-256 of its bytes.
func HashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

// Authenticator holds the credentials of one file and swaps in a new
// version on Reload; calls in flight keep the version they started with.
type Authenticator struct {
	path  string
	creds atomic.Pointer[Credentials]
}

// Load reads the credentials file at path.
func Load(path string) (*Authenticator, error) {
	a := &Authenticator{path: path}
	if err := a.Reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// Reload reads the file again. On error the credentials in use stay.
func (a *Authenticator) Reload() error {
	data, err := os.ReadFile(a.path)
	if err != nil {
		return fmt.Errorf("credentials file: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return fmt.Errorf("credentials file %s: %w", a.path, err)
	}
	a.creds.Store(c)
	return nil
}

// Credentials returns the credentials in use.
func (a *Authenticator) Credentials() *Credentials { return a.creds.Load() }
