package remoting

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzDecode feeds arbitrary frames to the decoder: it must never panic,
// and whatever it accepts must encode and decode to the same command.
func FuzzDecode(f *testing.F) {
	for _, r := range loadFrames(f) {
		if r.Seq%7 == 0 || r.Serialize == "ROCKETMQ" {
			f.Add(r.frame)
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		c, err := Decode(frame)
		if err != nil {
			return
		}
		again, err := Encode(c)
		if err != nil {
			return // e.g. a header that is valid JSON but too large for 16 bits in binary
		}
		c2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
		if c2.Code != c.Code || c2.Opaque != c.Opaque || c2.Flag != c.Flag || c2.Remark != c.Remark ||
			!bytes.Equal(c2.Body, c.Body) || len(c2.Ext) != len(c.Ext) {
			t.Fatalf("round trip changed %+v into %+v", c, c2)
		}
	})
}

// FuzzReadFrame feeds an arbitrary byte stream to the frame reader: it
// must never panic or allocate past the limit.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 8, 0, 0, 0, 2, '{', '}', 'x', 'y'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := bufio.NewReader(bytes.NewReader(stream))
		for {
			frame, err := ReadFrame(r, 1<<10)
			if err != nil {
				return
			}
			if len(frame) > 4+1<<10 {
				t.Fatalf("frame of %d bytes past the limit", len(frame))
			}
			_, _ = Decode(frame)
		}
	})
}

// FuzzFields checks the typed extFields getters and the lenient body
// reader against arbitrary text.
func FuzzFields(f *testing.F) {
	f.Add("brokerId", "12", []byte(`{"brokerAddrs":{1:"a"}}`))
	f.Add("isLeader", "TRUE", []byte(`[1,2,-3]`))
	f.Fuzz(func(t *testing.T, key, value string, body []byte) {
		fs := Fields{{key, value}}
		_, _ = fs.Int64(key)
		_, _ = fs.Int32(key)
		_, _ = fs.Bool(key)
		var v any
		_ = DecodeBody(body, &v)
		_, _ = ParseProperties(body)
	})
}
