package remoting

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// recorded is one frame of testdata/frames.jsonl, recorded between a stock
// RocketMQ 5.3.3 controller, its brokers and mqadmin.
type recorded struct {
	Seq       int             `json:"seq"`
	Scenario  string          `json:"scenario"`
	From      string          `json:"from"`
	To        string          `json:"to"`
	Code      int             `json:"code"`
	Flag      int             `json:"flag"`
	Opaque    int32           `json:"opaque"`
	Serialize string          `json:"serializeType"`
	Hex       string          `json:"hex"`
	Header    json.RawMessage `json:"header"`
	Body      *string         `json:"body_text"`
	Kind      string          `json:"kind"`
	Name      string          `json:"name"`
	ReplyTo   int             `json:"reply_to"`
	Conn      string          `json:"conn"`
	frame     []byte
}

func loadFrames(t testing.TB) []recorded {
	t.Helper()
	f, err := os.Open("testdata/frames.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []recorded
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r recorded
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.frame, err = hex.DecodeString(r.Hex); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRecordedFramesDecode decodes every recorded frame, checks it against
// the recorded header, and re-encodes it to the very same bytes.
func TestRecordedFramesDecode(t *testing.T) {
	frames := loadFrames(t)
	if len(frames) != 911 {
		t.Fatalf("%d frames, want 911", len(frames))
	}
	binary := 0
	for _, r := range frames {
		c, err := Decode(r.frame)
		if err != nil {
			t.Errorf("seq %d: %v", r.Seq, err)
			continue
		}
		if c.Serialize.String() != r.Serialize {
			t.Errorf("seq %d: serialize %v, recorded %s", r.Seq, c.Serialize, r.Serialize)
		}
		if c.Serialize == RocketMQ {
			binary++
		}
		var h struct {
			Code      int               `json:"code"`
			Language  string            `json:"language"`
			Version   int               `json:"version"`
			Opaque    int32             `json:"opaque"`
			Flag      int               `json:"flag"`
			Remark    string            `json:"remark"`
			ExtFields map[string]string `json:"extFields"`
		}
		if err := json.Unmarshal(r.Header, &h); err != nil {
			t.Fatal(err)
		}
		if c.Code != h.Code || c.Language != h.Language || c.Version != h.Version || c.Opaque != h.Opaque ||
			c.Flag != h.Flag || c.Remark != h.Remark || len(c.Ext) != len(h.ExtFields) || (c.Ext == nil) != (h.ExtFields == nil) {
			t.Errorf("seq %d: decoded %+v, recorded %s", r.Seq, c, r.Header)
		}
		for k, v := range h.ExtFields {
			if got, _ := c.Ext.Get(k); got != v {
				t.Errorf("seq %d: extFields %s = %q, recorded %q", r.Seq, k, got, v)
			}
		}
		if (r.Body == nil) != (c.Body == nil) || (r.Body != nil && *r.Body != string(c.Body)) {
			t.Errorf("seq %d: body %q, recorded %v", r.Seq, c.Body, r.Body)
		}
		again, err := Encode(c)
		if err != nil {
			t.Errorf("seq %d: encode: %v", r.Seq, err)
			continue
		}
		if !bytes.Equal(again, r.frame) {
			t.Errorf("seq %d: re-encoded\n%x\nrecorded\n%x", r.Seq, again, r.frame)
		}
	}
	if binary != 86 {
		t.Errorf("%d binary frames, want 86", binary)
	}
}

// TestRecordedBodiesDecode decodes every recorded JSON body of the kinds
// the controller reads or writes, fastjson's unquoted keys included.
func TestRecordedBodiesDecode(t *testing.T) {
	n := 0
	for _, r := range loadFrames(t) {
		if r.Body == nil || r.Code == 1009 || r.Name == "GET_CONTROLLER_CONFIG -> SUCCESS" {
			continue
		}
		var v any
		if err := DecodeBody([]byte(*r.Body), &v); err != nil {
			t.Errorf("seq %d %s: %v: %s", r.Seq, r.Name, err, *r.Body)
		}
		n++
	}
	var e ElectMasterBody
	if err := DecodeBody([]byte(`{"brokerMemberGroup":{"brokerAddrs":{1:"a:1",2:"b:2"},"brokerName":"x","cluster":"c"},"syncStateSet":[1]}`), &e); err != nil ||
		e.BrokerMemberGroup.BrokerAddrs[2] != "b:2" {
		t.Errorf("unquoted keys: %+v %v", e, err)
	}
	if n < 100 {
		t.Errorf("only %d bodies", n)
	}
}

func TestPropertiesRoundTrip(t *testing.T) {
	p, err := ParseProperties([]byte("# c\nb=2\n\na = x=y\nc:3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p.Encode()); got != "a=x=y\nb=2\nc=3\n" {
		t.Errorf("encoded %q", got)
	}
}

func TestLenient(t *testing.T) {
	for in, want := range map[string]string{
		`{"syncStateSet":[1,2],"syncStateSetEpoch":1}`:          `{"syncStateSet":[1,2],"syncStateSetEpoch":1}`,
		`{"brokerAddrs":{1:"a:1",-2:"b,{3:x"},"s":[{4:[5,6]}]}`: `{"brokerAddrs":{"1":"a:1","-2":"b,{3:x"},"s":[{"4":[5,6]}]}`,
		`{"k":"esc\"aped 7:","m":{ 8 :1}}`:                      `{"k":"esc\"aped 7:","m":{ "8" :1}}`,
	} {
		if got := string(Lenient([]byte(in))); got != want {
			t.Errorf("Lenient(%s) = %s, want %s", in, got, want)
		}
	}
}
