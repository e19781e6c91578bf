package remoting

import "errors"

// Authenticator verifies a request's credentials.
type Authenticator interface {
	// Verify returns nil for a request that may be served.
	Verify(req *Command) error
}

// ErrNoSignature is a request that carries no ACL signature.
var ErrNoSignature = errors.New("no AccessKey and Signature")

func authReason(err error) string {
	if errors.Is(err, ErrNoSignature) {
		return "missing"
	}
	return "invalid"
}
