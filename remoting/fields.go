package remoting

import (
	"strconv"
	"strings"
)

// Typed access to extFields, as RocketMQ's header decoding does it: every
// value is a string; a missing or unparsable value leaves the field at
// its default (Java logs the failure and carries on), so each getter
// says whether it found a usable value.

// String returns the value of key.
func (f Fields) String(key string) (string, bool) { return f.Get(key) }

// Int64 returns key as a Java Long.
func (f Fields) Int64(key string) (int64, bool) {
	s, ok := f.Get(key)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// Int32 returns key as a Java Integer.
func (f Fields) Int32(key string) (int64, bool) {
	s, ok := f.Get(key)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 32)
	return v, err == nil
}

// Bool returns key as a Java Boolean: only "true", in any case, is true.
func (f Fields) Bool(key string) (v, ok bool) {
	s, ok := f.Get(key)
	return ok && strings.EqualFold(s, "true"), ok
}

// SetInt64 sets key to a decimal value.
func (f *Fields) SetInt64(key string, v int64) { f.Set(key, strconv.FormatInt(v, 10)) }

// SetBool sets key to "true" or "false".
func (f *Fields) SetBool(key string, v bool) { f.Set(key, strconv.FormatBool(v)) }
