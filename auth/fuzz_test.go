package auth

import (
	"testing"
)

// FuzzParse: any file content is either refused or gives credentials whose
// every caller has a known role, brokers a scope and the others none.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if c != nil {
				t.Fatal("credentials returned with an error")
			}
			return
		}
		var all []*Principal
		for _, tok := range c.tokens {
			all = append(all, tok.p)
		}
		for _, m := range []map[string]*Principal{c.byCN, c.byURI} {
			for subject, p := range m {
				if subject == "" {
					t.Errorf("%q maps the empty subject", p.Name)
				}
				all = append(all, p)
			}
		}
		names := map[string]bool{}
		for _, p := range all {
			if p.Name == "" || names[p.Name] {
				t.Errorf("name %q empty or used twice", p.Name)
			}
			names[p.Name] = true
			scoped := len(p.Clusters)+len(p.Groups) > 0
			switch p.Role {
			case RoleAdmin, RoleReader:
				if scoped {
					t.Errorf("%q: %s with a scope", p.Name, p.Role)
				}
			case RoleBroker:
				if !scoped {
					t.Errorf("%q: broker without a scope", p.Name)
				}
				for _, g := range p.Groups {
					if g.Validate() != nil {
						t.Errorf("%q: invalid group %s", p.Name, g)
					}
				}
			default:
				t.Errorf("%q: role %q", p.Name, p.Role)
			}
		}
	})
}
