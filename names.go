package ledgerless

import (
	"fmt"
	"net"
	"strings"
	"time"
	"unicode"
)

// Input limits. They keep etcd keys and records small and readable.
const (
	MaxNameLen         = 127
	MaxRegisterCodeLen = 256
	MaxAddressLen      = 255
)

// ValidateName checks a cluster or group name: 1–127 characters of
// A-Z a-z 0-9 _ - ., and not "." or "..".
func ValidateName(kind, name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("%w: %s name must be 1-%d characters", ErrInvalidRequest, kind, MaxNameLen)
	}
	if name == "." || name == ".." {
		return fmt.Errorf("%w: %s name must not be %q", ErrInvalidRequest, kind, name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return fmt.Errorf("%w: %s name %q has %q; allowed are A-Z a-z 0-9 _ - .", ErrInvalidRequest, kind, name, r)
		}
	}
	return nil
}

// ParseGroupKey parses "cluster/group".
func ParseGroupKey(s string) (GroupKey, error) {
	cluster, group, ok := strings.Cut(s, "/")
	if !ok {
		return GroupKey{}, fmt.Errorf("%w: %q is not cluster/group", ErrInvalidRequest, s)
	}
	k := GroupKey{Cluster: cluster, Group: group}
	return k, k.Validate()
}

// Validate checks both names of k.
func (k GroupKey) Validate() error {
	if err := ValidateName("cluster", k.Cluster); err != nil {
		return err
	}
	return ValidateName("group", k.Group)
}

// ValidateRegisterCode checks an opaque register code: 1–256 printable
// characters.
func ValidateRegisterCode(code string) error {
	if code == "" || len(code) > MaxRegisterCodeLen {
		return fmt.Errorf("%w: registerCode must be 1-%d characters", ErrInvalidRequest, MaxRegisterCodeLen)
	}
	if strings.IndexFunc(code, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 {
		return fmt.Errorf("%w: registerCode must be printable with no spaces", ErrInvalidRequest)
	}
	return nil
}

// ValidateAddress checks a broker address of the form host:port.
func ValidateAddress(addr string) error {
	if addr == "" || len(addr) > MaxAddressLen {
		return fmt.Errorf("%w: address must be 1-%d characters", ErrInvalidRequest, MaxAddressLen)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" ||
		strings.IndexFunc(addr, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 {
		return fmt.Errorf("%w: address %q is not host:port", ErrInvalidRequest, addr)
	}
	return nil
}

// ValidateHeartbeatTimeout checks a heartbeat timeout against etcd's lease
// floor and a sane ceiling.
func ValidateHeartbeatTimeout(d time.Duration) error {
	if d < MinHeartbeatTimeout || d > MaxHeartbeatTimeout || d%time.Millisecond != 0 {
		return fmt.Errorf("%w: heartbeatTimeoutMs must be %d-%d", ErrInvalidRequest,
			MinHeartbeatTimeout.Milliseconds(), MaxHeartbeatTimeout.Milliseconds())
	}
	return nil
}
