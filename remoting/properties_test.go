package remoting

import (
	"slices"
	"testing"
)

// TestParseProperties: java.util.Properties syntax, as Properties.load
// reads it (the expected values are what Java's load gives).
func TestParseProperties(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Properties
	}{
		{"separators", "a=1\nb:2\nc 3\nd\t=\t4\ne = x=y\nf\n", Properties{{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "x=y"}, {"f", ""}}},
		{"comments and blanks", "# c\n  ! c\n\n   \nk=v\n", Properties{{"k", "v"}}},
		{"leading white space", "  \t k = v  \n", Properties{{"k", "v  "}}},
		{"continuation", "controllerAddr=127.0.0.1:9878;\\\n    127.0.0.1:9868;\\\n\t127.0.0.1:9858\n", Properties{{"controllerAddr", "127.0.0.1:9878;127.0.0.1:9868;127.0.0.1:9858"}}},
		{"even backslashes do not continue", "a=x\\\\\nb=y\n", Properties{{"a", `x\`}, {"b", "y"}}},
		{"a comment does not continue", "# c\\\nk=v\n", Properties{{"k", "v"}}},
		{"continuation at the end", "k=v\\", Properties{{"k", "v"}}},
		{"escapes", `k=a\tb\nc\rd\fe\\f\=g\:h\ i\u0041\u00e9\q`, Properties{{"k", "a\tb\nc\rd\fe\\f=g:h iAéq"}}},
		{"escaped separators in keys", `a\=b\:c\ d=v`, Properties{{"a=b:c d", "v"}}},
		{"CRLF and CR", "a=1\r\nb=2\rc=3", Properties{{"a", "1"}, {"b", "2"}, {"c", "3"}}},
		{"last value wins", "a=1\nb=2\na=3\n", Properties{{"a", "3"}, {"b", "2"}}},
	} {
		got, err := ParseProperties([]byte(tc.in))
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: ParseProperties(%q) = %q, %v; want %q", tc.name, tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{`k=\u00`, `k=\uzzzz`, `\u12=v`} {
		if p, err := ParseProperties([]byte(in)); err == nil {
			t.Errorf("ParseProperties(%q) = %q, want a malformed \\u error", in, p)
		}
	}
}
