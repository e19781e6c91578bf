package remoting

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// MaxFrame is RocketMQ's default frame limit (16 MiB), the length word
// included in neither.
const MaxFrame = 16 << 20

// ErrFrame is a frame that cannot be decoded; the connection it came on
// cannot be trusted to be in step any more and is closed.
var ErrFrame = errors.New("bad remoting frame")

func frameErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFrame}, args...)...)
}

// ReadFrame reads one frame from r: its 4-byte length and the bytes it
// counts, returned together. A length above max (or below the 4 bytes
// of the header-length word) is ErrFrame.
func ReadFrame(r *bufio.Reader, max int) ([]byte, error) {
	var word [4]byte
	if _, err := io.ReadFull(r, word[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(word[:])
	if n < 4 || int64(n) > int64(max) {
		return nil, frameErr("length %d outside 4-%d", n, max)
	}
	frame := make([]byte, 4+int(n))
	copy(frame, word[:])
	if _, err := io.ReadFull(r, frame[4:]); err != nil {
		return nil, fmt.Errorf("read frame of %d bytes: %w", n, err)
	}
	return frame, nil
}

// Decode decodes a whole frame, length word included.
func Decode(frame []byte) (*Command, error) {
	if len(frame) < 8 {
		return nil, frameErr("%d bytes is shorter than a frame", len(frame))
	}
	n := binary.BigEndian.Uint32(frame)
	if int64(n) != int64(len(frame)-4) {
		return nil, frameErr("length word %d, frame %d", n, len(frame)-4)
	}
	word := binary.BigEndian.Uint32(frame[4:])
	typ, hlen := SerializeType(word>>24), int(word&0xFFFFFF)
	if hlen > len(frame)-8 {
		return nil, frameErr("header length %d exceeds the frame", hlen)
	}
	header, body := frame[8:8+hlen], frame[8+hlen:]
	var c *Command
	var err error
	switch typ {
	case JSON:
		c, err = decodeJSON(header)
	case RocketMQ:
		c, err = decodeBinary(header)
	default:
		return nil, frameErr("unknown serialize type %d", typ)
	}
	if err != nil {
		return nil, err
	}
	c.Serialize = typ
	if len(body) > 0 {
		c.Body = bytes.Clone(body)
	}
	return c, nil
}

// Encode encodes c as a whole frame in c.Serialize.
func Encode(c *Command) ([]byte, error) {
	var header []byte
	switch c.Serialize {
	case JSON:
		header = encodeJSON(c)
	case RocketMQ:
		var err error
		if header, err = encodeBinary(c); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("encode: unknown serialize type %d", c.Serialize)
	}
	if len(header) > 0xFFFFFF {
		return nil, fmt.Errorf("encode: header of %d bytes exceeds 24 bits", len(header))
	}
	n := 4 + len(header) + len(c.Body)
	if n > MaxFrame {
		return nil, fmt.Errorf("encode: frame of %d bytes exceeds %d", n, MaxFrame)
	}
	out := make([]byte, 8, 4+n)
	binary.BigEndian.PutUint32(out, uint32(n))
	binary.BigEndian.PutUint32(out[4:], uint32(c.Serialize)<<24|uint32(len(header)))
	out = append(out, header...)
	return append(out, c.Body...), nil
}

// jsonHeader is the JSON header as decoded; fastjson's defaults apply to
// absent keys, unknown keys are ignored.
type jsonHeader struct {
	Code      json.Number     `json:"code"`
	Language  json.RawMessage `json:"language"`
	Version   json.Number     `json:"version"`
	Opaque    json.Number     `json:"opaque"`
	Flag      json.Number     `json:"flag"`
	Remark    *string         `json:"remark"`
	ExtFields json.RawMessage `json:"extFields"`
}

func decodeJSON(b []byte) (*Command, error) {
	var h jsonHeader
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&h); err != nil {
		return nil, frameErr("JSON header: %v", err)
	}
	c := &Command{Language: "JAVA"}
	var err error
	for _, f := range []struct {
		name string
		n    json.Number
		bits int
		dst  func(int64)
	}{
		{"code", h.Code, 32, func(v int64) { c.Code = int(v) }},
		{"version", h.Version, 32, func(v int64) { c.Version = int(v) }},
		{"opaque", h.Opaque, 32, func(v int64) { c.Opaque = int32(v) }},
		{"flag", h.Flag, 32, func(v int64) { c.Flag = int(v) }},
	} {
		if f.n == "" {
			continue
		}
		v, perr := strconv.ParseInt(string(f.n), 10, f.bits)
		if perr != nil {
			err = frameErr("JSON header %s %q is not an int", f.name, f.n)
			break
		}
		f.dst(v)
	}
	if err != nil {
		return nil, err
	}
	if len(h.Language) > 0 && string(h.Language) != "null" {
		var name string
		if json.Unmarshal(h.Language, &name) == nil {
			c.Language = name
		} else if n, nerr := strconv.Atoi(string(h.Language)); nerr == nil && n >= 0 && n < len(languages) {
			c.Language = languages[n]
		} else {
			return nil, frameErr("JSON header language %s", h.Language)
		}
	}
	if h.Remark != nil {
		c.Remark = *h.Remark
	}
	if len(h.ExtFields) > 0 && string(h.ExtFields) != "null" {
		if c.Ext, err = decodeExtJSON(h.ExtFields); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// decodeExtJSON decodes the extFields object in order. Values are JSON
// strings from Java; numbers and booleans from other clients are taken
// as their text.
func decodeExtJSON(raw json.RawMessage) (Fields, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, frameErr("extFields is not an object")
	}
	f := Fields{}
	for d.More() {
		kt, err := d.Token()
		if err != nil {
			return nil, frameErr("extFields: %v", err)
		}
		key, _ := kt.(string)
		vt, err := d.Token()
		if err != nil {
			return nil, frameErr("extFields %q: %v", key, err)
		}
		switch v := vt.(type) {
		case string:
			f = append(f, Field{key, v})
		case json.Number:
			f = append(f, Field{key, v.String()})
		case bool:
			f = append(f, Field{key, strconv.FormatBool(v)})
		case nil:
			// a null value is an absent field
		default:
			return nil, frameErr("extFields %q is not a scalar", key)
		}
	}
	if _, err := d.Token(); err != nil {
		return nil, frameErr("extFields: %v", err)
	}
	return f, nil
}

// encodeJSON writes the header as fastjson does: sorted keys, compact,
// extFields and remark only when present.
func encodeJSON(c *Command) []byte {
	var b bytes.Buffer
	b.WriteString(`{"code":`)
	b.WriteString(strconv.Itoa(c.Code))
	if c.Ext != nil {
		b.WriteString(`,"extFields":{`)
		for i, kv := range c.Ext {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, kv.Key)
			b.WriteByte(':')
			writeJSONString(&b, kv.Value)
		}
		b.WriteByte('}')
	}
	b.WriteString(`,"flag":`)
	b.WriteString(strconv.Itoa(c.Flag))
	b.WriteString(`,"language":`)
	writeJSONString(&b, languageOr(c.Language))
	b.WriteString(`,"opaque":`)
	b.WriteString(strconv.Itoa(int(c.Opaque)))
	if c.Remark != "" {
		b.WriteString(`,"remark":`)
		writeJSONString(&b, c.Remark)
	}
	b.WriteString(`,"serializeTypeCurrentRPC":"JSON","version":`)
	b.WriteString(strconv.Itoa(c.Version))
	b.WriteByte('}')
	return b.Bytes()
}

func languageOr(l string) string {
	if l == "" {
		return "JAVA"
	}
	return l
}

func writeJSONString(b *bytes.Buffer, s string) {
	e := json.NewEncoder(b)
	e.SetEscapeHTML(false)
	_ = e.Encode(s) // a string always encodes
	b.Truncate(b.Len() - 1)
}

func decodeBinary(b []byte) (*Command, error) {
	r := &reader{b: b}
	c := &Command{}
	c.Code = int(int16(r.u16()))
	lang := r.u8()
	c.Version = int(int16(r.u16()))
	c.Opaque = int32(r.u32())
	c.Flag = int(int32(r.u32()))
	if r.err != nil {
		return nil, frameErr("binary header of %d bytes is too short", len(b))
	}
	if int(lang) < len(languages) {
		c.Language = languages[lang]
	} else {
		return nil, frameErr("binary header language %d", lang)
	}
	if n := r.u32(); n > 0 {
		c.Remark = string(r.bytes(int(n)))
	}
	if n := r.u32(); n > 0 && r.err == nil {
		ext := &reader{b: r.bytes(int(n))}
		c.Ext = Fields{}
		for ext.err == nil && len(ext.b) > 0 {
			k := ext.bytes(int(ext.u16()))
			v := ext.bytes(int(ext.u32()))
			if ext.err == nil {
				c.Ext = append(c.Ext, Field{string(k), string(v)})
			}
		}
		if ext.err != nil {
			return nil, frameErr("binary extFields: %v", ext.err)
		}
	}
	if r.err != nil {
		return nil, frameErr("binary header: %v", r.err)
	}
	if len(r.b) != 0 {
		return nil, frameErr("binary header has %d bytes after extFields", len(r.b))
	}
	return c, nil
}

func encodeBinary(c *Command) ([]byte, error) {
	lang, ok := languageCode(languageOr(c.Language))
	if !ok {
		return nil, fmt.Errorf("encode: language %q has no binary code", c.Language)
	}
	if c.Code < math.MinInt16 || c.Code > math.MaxInt16 || c.Version < math.MinInt16 || c.Version > math.MaxInt16 {
		return nil, fmt.Errorf("encode: code %d or version %d does not fit 16 bits", c.Code, c.Version)
	}
	b := binary.BigEndian.AppendUint16(nil, uint16(int16(c.Code)))
	b = append(b, lang)
	b = binary.BigEndian.AppendUint16(b, uint16(int16(c.Version)))
	b = binary.BigEndian.AppendUint32(b, uint32(c.Opaque))
	b = binary.BigEndian.AppendUint32(b, uint32(int32(c.Flag)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Remark)))
	b = append(b, c.Remark...)
	var ext []byte
	for _, kv := range c.Ext {
		if len(kv.Key) > math.MaxUint16 {
			return nil, fmt.Errorf("encode: extFields key of %d bytes", len(kv.Key))
		}
		ext = binary.BigEndian.AppendUint16(ext, uint16(len(kv.Key)))
		ext = append(ext, kv.Key...)
		ext = binary.BigEndian.AppendUint32(ext, uint32(len(kv.Value)))
		ext = append(ext, kv.Value...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(ext)))
	return append(b, ext...), nil
}

// reader reads big-endian values; the first short read sets err and
// every later read returns zeros.
type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		if r.err == nil {
			r.err = fmt.Errorf("length %d exceeds the %d bytes left", n, len(r.b))
		}
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() byte {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.bytes(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.bytes(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}
