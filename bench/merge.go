package bench

import (
	"bytes"
	"slices"
)

// mergeSections puts the "## " sections of a partial run's report into
// an earlier report: a section of the same title is replaced where it
// stands, a new one goes after the section that precedes it in the
// partial report (or at the end). The earlier report's text before its
// first section, and its other sections, are kept.
func mergeSections(old, partial []byte) []byte {
	head, sections := splitSections(old)
	_, fresh := splitSections(partial)
	at := -1
	for _, s := range fresh {
		i := slices.IndexFunc(sections, func(o section) bool { return o.title == s.title })
		if i >= 0 {
			sections[i] = s
			at = i
			continue
		}
		if at < 0 {
			at = len(sections) - 1
		}
		at++
		sections = slices.Insert(sections, at, s)
	}
	out := slices.Clone(head)
	for _, s := range sections {
		out = append(out, s.text...)
	}
	return out
}

// section is a "## " section of a Markdown report, its heading included.
type section struct {
	title string
	text  []byte
}

// splitSections returns what comes before the first "## " heading and
// the sections from there on.
func splitSections(doc []byte) ([]byte, []section) {
	var head []byte
	var out []section
	for line := range bytes.Lines(doc) {
		if bytes.HasPrefix(line, []byte("## ")) {
			out = append(out, section{title: string(bytes.TrimSpace(line))})
		}
		if len(out) == 0 {
			head = append(head, line...)
			continue
		}
		out[len(out)-1].text = append(out[len(out)-1].text, line...)
	}
	return head, out
}
