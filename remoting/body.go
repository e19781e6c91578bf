package remoting

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Bodies as RocketMQ's fastjson 1.x writes and reads them. Encoders here
// write standard JSON with fastjson's sorted keys; Java reads quoted
// numeric map keys as well as its own unquoted ones. Decoders accept
// both (see Lenient).

// SyncStateSetBody is the SyncStateSet body. Its array is always
// written, even empty: Java's constructor throws on a missing one.
type SyncStateSetBody struct {
	SyncStateSet      []int64 `json:"syncStateSet"`
	SyncStateSetEpoch int64   `json:"syncStateSetEpoch"`
}

// ElectMasterBody is ElectMasterResponseBody; BrokerMemberGroup is nil
// in a MASTER_STILL_EXIST answer.
type ElectMasterBody struct {
	BrokerMemberGroup *BrokerMemberGroup `json:"brokerMemberGroup,omitempty"`
	SyncStateSet      []int64            `json:"syncStateSet"`
}

// BrokerMemberGroup names a group's registered brokers by id.
type BrokerMemberGroup struct {
	BrokerAddrs map[int64]string `json:"brokerAddrs"`
	BrokerName  string           `json:"brokerName"`
	Cluster     string           `json:"cluster"`
}

// BrokerReplicasInfo is the answer of CONTROLLER_GET_SYNC_STATE_DATA.
type BrokerReplicasInfo struct {
	ReplicasInfoTable map[string]ReplicasInfo `json:"replicasInfoTable"`
}

// ReplicasInfo is one group in BrokerReplicasInfo; both lists are always
// written (mqadmin reads their sizes).
type ReplicasInfo struct {
	InSyncReplicas    []ReplicaIdentity `json:"inSyncReplicas"`
	MasterAddress     string            `json:"masterAddress,omitempty"`
	MasterBrokerID    *int64            `json:"masterBrokerId,omitempty"`
	MasterEpoch       int64             `json:"masterEpoch"`
	NotInSyncReplicas []ReplicaIdentity `json:"notInSyncReplicas"`
	SyncStateSetEpoch int64             `json:"syncStateSetEpoch"`
}

// ReplicaIdentity is one broker in ReplicasInfo.
type ReplicaIdentity struct {
	Alive         bool   `json:"alive"`
	BrokerAddress string `json:"brokerAddress"`
	BrokerID      int64  `json:"brokerId"`
	BrokerName    string `json:"brokerName"`
}

// EncodeBody encodes v as fastjson would, keys sorted (encoding/json sorts
// map keys; struct fields are declared in sorted order).
func EncodeBody(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// DecodeBody decodes a fastjson body into v.
func DecodeBody(b []byte, v any) error {
	if len(b) == 0 {
		return fmt.Errorf("body is empty")
	}
	return json.Unmarshal(Lenient(b), v)
}

// Lenient returns b with fastjson's unquoted object keys (numbers, as in
// Map<Long,String>) quoted, so that it is standard JSON. Everything else,
// strings included, is copied unchanged.
func Lenient(b []byte) []byte {
	out := make([]byte, 0, len(b)+8)
	var stack []byte // the open containers, '{' or '['
	inString, escaped, expectKey := false, false, false
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if inString {
			out = append(out, ch)
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
			continue
		}
		switch {
		case ch == '"':
			inString, expectKey = true, false
		case ch == '{' || ch == '[':
			stack = append(stack, ch)
			expectKey = ch == '{'
		case ch == '}' || ch == ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			expectKey = false
		case ch == ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1] == '{'
		case expectKey && (ch == '-' || ch >= '0' && ch <= '9'):
			j := i
			for j < len(b) && (b[j] == '-' || b[j] >= '0' && b[j] <= '9') {
				j++
			}
			out = append(out, '"')
			out = append(out, b[i:j]...)
			out = append(out, '"')
			i, expectKey = j-1, false
			continue
		case ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r':
			expectKey = false
		}
		out = append(out, ch)
	}
	return out
}

// Properties is java.util.Properties text: key=value lines.
type Properties []Field

// Encode writes p as key=value lines, sorted by key.
func (p Properties) Encode() []byte {
	sorted := slices.Clone(p)
	slices.SortFunc(sorted, func(a, b Field) int { return strings.Compare(a.Key, b.Key) })
	var b bytes.Buffer
	for _, kv := range sorted {
		b.WriteString(kv.Key)
		b.WriteByte('=')
		b.WriteString(kv.Value)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// idsText formats ids as RocketMQ's remarks do: {1,2}.
func idsText(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return "{" + strings.Join(s, ",") + "}"
}
