package auth_test

import (
	"testing"

	"github.com/ledgerless/ledgerless"
	"github.com/ledgerless/ledgerless/auth"
)

func TestAllows(t *testing.T) {
	c1g1 := ledgerless.GroupKey{Cluster: "c1", Group: "g1"}
	c1g2 := ledgerless.GroupKey{Cluster: "c1", Group: "g2"}
	c2g1 := ledgerless.GroupKey{Cluster: "c2", Group: "g1"}
	c3g9 := ledgerless.GroupKey{Cluster: "c3", Group: "g9"}
	admin := &auth.Principal{Name: "a", Role: auth.RoleAdmin}
	reader := &auth.Principal{Name: "r", Role: auth.RoleReader}
	cluster := &auth.Principal{Name: "b1", Role: auth.RoleBroker, Clusters: []string{"c1"}}
	group := &auth.Principal{Name: "b2", Role: auth.RoleBroker, Groups: []ledgerless.GroupKey{c2g1}}
	every := &auth.Principal{Name: "b3", Role: auth.RoleBroker, Clusters: []string{auth.AnyCluster}}
	unknown := &auth.Principal{Name: "x", Role: "root"}

	type row struct {
		p    *auth.Principal
		a    auth.Access
		g    ledgerless.GroupKey
		want bool
	}
	var rows []row
	for _, p := range []*auth.Principal{admin, reader, cluster, group, every, unknown} {
		rows = append(rows, row{p, auth.Public, c1g1, true}, row{p, auth.Authenticated, c1g1, true})
	}
	rows = append(rows,
		row{admin, auth.Read, c1g1, true}, row{admin, auth.GroupRead, c3g9, true},
		row{admin, auth.GroupWrite, c3g9, true}, row{admin, auth.Admin, c1g1, true},

		row{reader, auth.Read, c1g1, true}, row{reader, auth.GroupRead, c3g9, true},
		row{reader, auth.GroupWrite, c1g1, false}, row{reader, auth.Admin, c1g1, false},

		row{cluster, auth.Read, c1g1, false}, row{cluster, auth.Admin, c1g1, false},
		row{cluster, auth.GroupRead, c1g1, true}, row{cluster, auth.GroupRead, c1g2, true},
		row{cluster, auth.GroupWrite, c1g2, true}, row{cluster, auth.GroupWrite, c2g1, false},
		row{cluster, auth.GroupRead, c2g1, false},

		row{group, auth.GroupWrite, c2g1, true}, row{group, auth.GroupRead, c2g1, true},
		row{group, auth.GroupWrite, c1g1, false}, row{group, auth.GroupWrite, ledgerless.GroupKey{Cluster: "c2", Group: "g2"}, false},
		row{group, auth.Read, c2g1, false},

		row{every, auth.GroupWrite, c3g9, true}, row{every, auth.Read, c3g9, false}, row{every, auth.Admin, c3g9, false},

		row{unknown, auth.Read, c1g1, false}, row{unknown, auth.GroupRead, c1g1, false},
		row{unknown, auth.GroupWrite, c1g1, false}, row{unknown, auth.Admin, c1g1, false},
	)
	for _, r := range rows {
		if got := r.p.Allows(r.a, r.g); got != r.want {
			t.Errorf("%s (%s) access %d on %s: %v, want %v", r.p.Name, r.p.Role, r.a, r.g, got, r.want)
		}
	}
}
