// Package auth decides who may call the controller's API. It loads the
// credentials file (SHA-256 hashes of bearer tokens, and client certificate
// subjects, each with a role and, for brokers, the clusters and groups they
// may act in), recognises a caller by token or by certificate, and says
// whether a caller's role allows an access. It knows no HTTP routes:
// package handlers says which access each route needs.
package auth

import (
	"slices"

	"github.com/ledgerless/ledgerless"
)

// Role is what a caller may do.
type Role string

// Roles.
const (
	// RoleAdmin may do everything.
	RoleAdmin Role = "admin"
	// RoleReader may read everything and change nothing.
	RoleReader Role = "reader"
	// RoleBroker may register, heartbeat, resign, change SyncStateSets and
	// read its group, in the clusters and groups of its scope only.
	RoleBroker Role = "broker"
)

// AnyCluster in a broker's clusters puts every cluster in its scope.
const AnyCluster = "*"

// Access is what a call requires of its caller.
type Access int

// Accesses, from the least to the most demanding.
const (
	// Public calls need no credentials.
	Public Access = iota
	// Authenticated calls need a known caller of any role.
	Authenticated
	// Read calls need an admin or a reader.
	Read
	// GroupRead calls read one group: an admin, a reader, or a broker
	// whose scope covers the group.
	GroupRead
	// GroupWrite calls change one group as its brokers do: an admin, or a
	// broker whose scope covers the group.
	GroupWrite
	// Admin calls need an admin.
	Admin
)

// Principal is a known caller: an entry of the credentials file.
type Principal struct {
	Name     string // names the entry in logs; never a secret
	Role     Role
	Clusters []string              // broker scope: every group of these clusters, or AnyCluster
	Groups   []ledgerless.GroupKey // broker scope: these groups
}

// Covers reports whether group g is within p's broker scope.
func (p *Principal) Covers(g ledgerless.GroupKey) bool {
	return slices.Contains(p.Clusters, AnyCluster) || slices.Contains(p.Clusters, g.Cluster) ||
		slices.Contains(p.Groups, g)
}

// Allows reports whether p may make a call that requires a. g is the
// group the call names; accesses that name no group ignore it.
func (p *Principal) Allows(a Access, g ledgerless.GroupKey) bool {
	switch a {
	case Public, Authenticated:
		return true
	case Read:
		return p.Role == RoleAdmin || p.Role == RoleReader
	case GroupRead:
		return p.Role == RoleAdmin || p.Role == RoleReader || p.Role == RoleBroker && p.Covers(g)
	case GroupWrite:
		return p.Role == RoleAdmin || p.Role == RoleBroker && p.Covers(g)
	}
	return p.Role == RoleAdmin
}
