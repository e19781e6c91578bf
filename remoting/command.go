// Package remoting owns RocketMQ's remoting protocol, as stock RocketMQ
// 5.1.1+ brokers and mqadmin speak it to their controller: the frame
// codec (JSON and ROCKETMQ binary headers, typed extFields, fastjson
// bodies), a server that answers the controller's request codes through
// package service, and a client for the other direction (NOTIFY to
// brokers) and for tests and tools.
package remoting

import (
	"strconv"
)

// SerializeType is a header's encoding, the top byte of the header-length
// word.
type SerializeType byte

const (
	JSON     SerializeType = 0
	RocketMQ SerializeType = 1
)

func (t SerializeType) String() string {
	switch t {
	case JSON:
		return "JSON"
	case RocketMQ:
		return "ROCKETMQ"
	}
	return "SerializeType(" + strconv.Itoa(int(t)) + ")"
}

// Flag bits of a command.
const (
	FlagResponse = 1 << 0
	FlagOneway   = 1 << 1
)

// Command is one remoting frame: a request, a oneway request or a
// response. Ext keeps the extFields in the order they arrived (Java
// writes them in HashMap order); nil means no extFields at all, an empty
// non-nil slice an empty map.
type Command struct {
	Code      int
	Language  string // LanguageCode name: "JAVA", "GO", ...
	Version   int
	Opaque    int32
	Flag      int
	Remark    string // "": none
	Ext       Fields
	Body      []byte // nil: none
	Serialize SerializeType
}

// IsResponse reports whether c answers a request.
func (c *Command) IsResponse() bool { return c.Flag&FlagResponse != 0 }

// IsOneway reports whether c is a request that is never answered.
func (c *Command) IsOneway() bool { return c.Flag&FlagOneway != 0 }

// Response returns an answer to c with the given code and remark: c's
// opaque and the response flag, in JSON, as a Java controller answers.
func (c *Command) Response(code int, remark string) *Command {
	return &Command{Code: code, Language: "JAVA", Opaque: c.Opaque, Flag: FlagResponse, Remark: remark}
}

// Field is one extFields entry.
type Field struct{ Key, Value string }

// Fields are the extFields of a command, in order.
type Fields []Field

// Get returns the value of key.
func (f Fields) Get(key string) (string, bool) {
	for _, kv := range f {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// Set adds key or replaces its value.
func (f *Fields) Set(key, value string) {
	for i, kv := range *f {
		if kv.Key == key {
			(*f)[i].Value = value
			return
		}
	}
	*f = append(*f, Field{key, value})
}

// languages are RocketMQ's LanguageCode values, by code.
var languages = []string{"JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO", "PHP", "OMS", "RUST", "NODE_JS"}

func languageCode(name string) (byte, bool) {
	for i, l := range languages {
		if l == name {
			return byte(i), true
		}
	}
	return 0, false
}
