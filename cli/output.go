package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"
)

// Output formats of -o/--output.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

// none stands for an absent value in a table cell.
const none = "-"

// printer writes a command's result in the chosen format: JSON and YAML
// show the controller's answer as it came, tables are for people.
type printer struct {
	w      io.Writer
	format string
	docs   int // documents written, to separate a stream of them
}

// validFormat checks an -o value.
func validFormat(f string) bool {
	return f == formatTable || f == formatJSON || f == formatYAML
}

// table reports whether people are the audience.
func (p *printer) table() bool { return p.format == formatTable }

// print writes doc, a JSON answer (json.RawMessage or []byte) or any value
// to encode, as JSON or YAML; for table output it calls table instead.
func (p *printer) print(doc any, table func(w io.Writer) error) error {
	if p.table() {
		return table(p.w)
	}
	raw, err := asJSON(doc)
	if err != nil {
		return err
	}
	if p.docs++; p.format == formatYAML {
		return p.yaml(raw)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return fmt.Errorf("format answer: %w", err)
	}
	out.WriteByte('\n')
	_, err = p.w.Write(out.Bytes())
	return err
}

func (p *printer) yaml(raw []byte) error {
	out, err := yaml.JSONToYAML(raw)
	if err != nil {
		return fmt.Errorf("format answer as YAML: %w", err)
	}
	if p.docs > 1 {
		out = append([]byte("---\n"), out...)
	}
	_, err = p.w.Write(out)
	return err
}

func asJSON(doc any) ([]byte, error) {
	switch d := doc.(type) {
	case []byte:
		return d, nil
	case json.RawMessage:
		return d, nil
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return raw, nil
}

// message writes a line for people; JSON and YAML output leave it out.
func (p *printer) message(format string, args ...any) {
	if p.table() {
		fmt.Fprintf(p.w, format+"\n", args...)
	}
}

// table is a text table aligned with tabwriter, two spaces between columns.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// Cell formats.

func id(v int64) string { return strconv.FormatInt(v, 10) }

func optionalID(v *int64) string {
	if v == nil {
		return none
	}
	return id(*v)
}

func ids(vs []int64) string {
	if len(vs) == 0 {
		return none
	}
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = id(v)
	}
	return strings.Join(s, ",")
}

func list(items []string) string {
	if len(items) == 0 {
		return none
	}
	return strings.Join(items, ",")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func text(s string) string {
	if s == "" {
		return none
	}
	return s
}

// timestamp is t in UTC to the second: every timestamp has the same width.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}

func optionalTime(t *time.Time) string {
	if t == nil {
		return none
	}
	return timestamp(*t)
}
