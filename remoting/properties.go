package remoting

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ParseProperties parses java.util.Properties text as Properties.load
// reads it: logical lines continued by an odd number of trailing
// backslashes (the next line's leading white space dropped), # and !
// comment lines and blank lines skipped, the key ending at the first
// unescaped '=', ':' or white space, and the escapes \t \n \r \f \uXXXX
// (any other escaped character stands for itself) in keys and values. A
// key given twice keeps its last value, at its first place. A malformed
// \u escape is an error, as it is in Java.
func ParseProperties(b []byte) (Properties, error) {
	var p Properties
	lines := naturalLines(string(b))
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line := trimWhite(lines[i])
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for continued(line) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + trimWhite(lines[i])
		}
		if continued(line) {
			line = line[:len(line)-1] // a continuation at the end of the text continues into nothing
		}
		rawKey, rawValue := splitKeyValue(line)
		key, err := unescape(rawKey)
		if err != nil {
			return nil, fmt.Errorf("line %d: key: %w", n, err)
		}
		value, err := unescape(rawValue)
		if err != nil {
			return nil, fmt.Errorf("line %d: value of %s: %w", n, key, err)
		}
		p.set(key, value)
	}
	return p, nil
}

// Get returns the value of key.
func (p Properties) Get(key string) (string, bool) { return Fields(p).Get(key) }

func (p *Properties) set(key, value string) { (*Fields)(p).Set(key, value) }

// naturalLines splits text at \n, \r and \r\n.
func naturalLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func isWhite(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

func trimWhite(s string) string { return strings.TrimLeft(s, " \t\f") }

// continued reports whether line ends in an odd number of backslashes.
func continued(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitKeyValue cuts a logical line into its raw key and raw value.
func splitKeyValue(line string) (key, value string) {
	end := len(line)
	escaped := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if escaped {
			escaped = false
			continue
		}
		if c == '\\' {
			escaped = true
			continue
		}
		if c == '=' || c == ':' || isWhite(c) {
			end = i
			break
		}
	}
	key, rest := line[:end], line[end:]
	rest = trimWhite(rest)
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = trimWhite(rest[1:])
	}
	return key, rest
}

var errBadUnicode = errors.New(`malformed \uxxxx escape`)

// unescape interprets the escapes of a key or value.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch c = s[i]; c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", errBadUnicode
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", errBadUnicode
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
