package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestSummarizeIsNearestRank(t *testing.T) {
	var samples []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		samples = append(samples, time.Duration(i)*time.Millisecond)
	}
	got := summarize(samples)
	want := Latency{N: 100, Min: time.Millisecond, P50: 50 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if got != want {
		t.Fatalf("summarize 1..100 ms = %+v, want %+v", got, want)
	}
	if got := summarize([]time.Duration{7}); got.P50 != 7 || got.P99 != 7 || got.Max != 7 {
		t.Fatalf("one sample: %+v", got)
	}
	if got := summarize(nil); got != (Latency{}) {
		t.Fatalf("no samples: %+v", got)
	}
}

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		header  string
		length  int
		index   int64
		wantErr string
	}{
		{"Content-Length: 12\r\nX-Ledgerless-Index: 42\r\nDate: x", 12, 42, ""},
		{"content-length:0\r\nx-ledgerless-index:  7 ", 0, 7, ""},
		{"X-Ledgerless-Index: 42", 0, 0, "Content-Length"},
		{"Content-Length: 12", 0, 0, "X-Ledgerless-Index"},
		{"Content-Length: 12\r\nX-Ledgerless-Index: 42\r\nTransfer-Encoding: chunked", 0, 0, "Transfer-Encoding"},
		{"Content-Length: -1\r\nX-Ledgerless-Index: 42", 0, 0, "Content-Length"},
		{"Content-Length: 12\r\nX-Ledgerless-Index: x", 0, 0, "invalid syntax"},
		{"Content-Length 12", 0, 0, "malformed"},
	} {
		length, index, err := parseHeader([]byte(tc.header))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want one about %s", tc.header, err, tc.wantErr)
			}
			continue
		}
		if err != nil || length != tc.length || index != tc.index {
			t.Errorf("%q: %d, %d, %v; want %d, %d", tc.header, length, index, err, tc.length, tc.index)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(`# HELP x y
# TYPE etcd_mvcc_put_total counter
etcd_mvcc_put_total 12
process_resident_memory_bytes 4.0378368e+07
etcd_server_version{server_version="3.7.3"} 1
http_requests_total{route="/a",status="200"} 3
http_requests_total{route="/b",status="200"} 4
not a sample
`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"etcd_mvcc_put_total": 12, "process_resident_memory_bytes": 40378368,
		"http_requests_total": 7, "absent": 0} {
		if got := m.sum(name); got != want {
			t.Errorf("sum(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestFormats(t *testing.T) {
	for got, want := range map[string]string{
		count(1234567): "1,234,567", count(999): "999", count(0): "0",
		ms(1500 * time.Microsecond): "1.50 ms", ms(15 * time.Millisecond): "15.0 ms", ms(150 * time.Millisecond): "150 ms",
		bytesOf(512): "512 B", bytesOf(1536): "1.5 KiB", bytesOf(3 << 20): "3.0 MiB", bytesOf(3 << 30): "3.00 GiB",
		ratio(1.234): "1.23×", ratio(0): "n/a",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Defaults()
	ok.Binary = "ledgerless"
	ok.Brokers = []int{10, 3}
	ok.Pollers = 10
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if ok.Brokers[0] != 3 {
		t.Errorf("broker counts not sorted: %v", ok.Brokers)
	}
	for name, change := range map[string]func(*Config){
		"no binary":     func(c *Config) { c.Binary = "" },
		"no brokers":    func(c *Config) { c.Brokers = nil },
		"zero brokers":  func(c *Config) { c.Brokers = []int{0} },
		"concurrency":   func(c *Config) { c.Concurrency = []int{-1} },
		"duration":      func(c *Config) { c.Duration = 0 },
		"rounds":        func(c *Config) { c.Rounds = 0 },
		"trials":        func(c *Config) { c.FailoverTrials = 0 },
		"pollers":       func(c *Config) { c.Pollers = 0 },
		"too many open": func(c *Config) { c.Pollers = 1 << 40 },
		"unknown phase": func(c *Config) { c.Phases = []string{"nope"} },
		"memory alone":  func(c *Config) { c.Phases = []string{PhaseMemory} },
		"no brokersim":  func(c *Config) { c.Phases, c.Brokersim = []string{PhaseRocketMQFailover}, "" },
		"masterless":    func(c *Config) { c.Masterless = -1 },
		"rmq trials":    func(c *Config) { c.RocketMQTrials = 0 },
	} {
		c := ok
		c.Brokers = []int{3}
		change(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
}

// report is a small made-up report: the numbers are arbitrary, only the
// shape is checked.
func report() *Report {
	lat := Latency{N: 10, P50: time.Millisecond, P99: 5 * time.Millisecond, Max: 6 * time.Millisecond}
	cost := Cost{Txns: 0.05, Puts: 1, PutBytes: 180, Renewals: 1, WALBytes: 300, ServerCPU: 150e-6, ClientCPU: 80e-6}
	return &Report{
		Env: Env{CPUs: 2, OS: "linux/amd64", GoVersion: "go1.26", EtcdVersion: "3.7.3", Date: time.Unix(0, 0),
			Command: "ledgerless bench", Rounds: 1, Elapsed: time.Minute, QuotaBytes: 2 << 30},
		Heartbeat: []HeartbeatCell{{Brokers: 1000, Concurrency: 64, Ratio: 1.2, RatioPut: 0.7, Runs: []HeartbeatRun{
			{System: sysLedgerless, Throughput: 3000, Latency: lat, Cost: cost},
			{System: sysRawLease, Throughput: 2500, Latency: lat, Cost: Cost{Txns: 1, Puts: 1, Renewals: 1}},
			{System: sysRawPut, Throughput: 4000, Latency: lat, Cost: Cost{Txns: 1, Puts: 1}},
		}}},
		Memory: Memory{Brokers: 1000, Groups: 334, Heartbeats: 3000, IdleRSS: 30 << 20, RSS: 40 << 20, Heap: 8 << 20,
			EmbeddedRSS: 90 << 20, DBSize: 20 << 20, DBInUse: 10 << 20, Keys: 3700, KeyBytes: 600000,
			HistoryPerBeat: 250, ControllerCPU: 100e-6, EtcdCPU: 20e-6,
			Cost:  Cost{Txns: 0.01, Puts: 0.25, PutBytes: 45, Renewals: 1, WALBytes: 80},
			Today: Today{Heartbeats: 1000, Puts: 1, DBSize: 60 << 20, DBInUse: 55 << 20, RSS: 200 << 20, BytesPerPut: 1000}},
		Failover: []Failover{{Mode: "resign", Latency: lat}, {Mode: "expiry", Latency: lat, Granularity: lat}},
		Fanout: []Fanout{{System: sysLongPoll, Pollers: 10, Delivered: 10, Latency: lat, ServerCPU: 60e-6},
			{System: sysRawWatch, Pollers: 10, Delivered: 10, Latency: Latency{N: 10, P50: 2 * time.Millisecond, P99: 4 * time.Millisecond, Max: 4 * time.Millisecond}, ServerCPU: 40e-6}},
		Loaded: &Loaded{Groups: 1000, Mode: "revoke", Without: lat, With: Latency{N: 10, P50: 1100 * time.Microsecond, P99: 5 * time.Millisecond, Max: 6 * time.Millisecond}},
		RocketMQFailover: []ProcessFailover{{Mode: anchorKill, Timeout: 2 * time.Second, Latency: lat},
			{Mode: anchorStop, Timeout: 10 * time.Second, Latency: Latency{N: 10, P50: 10100 * time.Millisecond, P99: 10700 * time.Millisecond, Max: 10700 * time.Millisecond}}},
		RocketMQHeartbeat: &RocketMQHeartbeat{Brokers: 1000, Duration: time.Minute, Runs: []RocketMQRun{
			{System: sysRocketMQ3, Replicas: 3, Rate: 1000, PerBrokerSecond: Cost{Txns: 0.34, Puts: 0.34, Renewals: 1}},
			{System: sysRocketMQ1, Replicas: 1, Rate: 1000, PerBrokerSecond: Cost{Txns: 0.34, Puts: 0.34, Renewals: 1}},
			{System: sysRawLease, Rate: 1000, PerBrokerSecond: Cost{Txns: 1, Puts: 1, Renewals: 1}}}},
		Micro: "BenchmarkDecide 1 ns/op",
	}
}

// The RocketMQ phases and the loaded failover show their figures,
// ratios, anchors and goals.
func TestWriteTableHasTheRocketMQPhases(t *testing.T) {
	var out bytes.Buffer
	if err := report().WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1,000 master-less or paused groups present", "1.10×", "54–91 ms", "10.0–11.8 s",
		"≤ 10600 ms: not met", sysRocketMQ3, sysRocketMQ1, "3 replicas ÷ 1 replica (target ≤ 1.0×)", "0.34×"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

// A partial run replaces the sections it measured where they stand,
// adds new ones after the section before them, and keeps the rest.
func TestMergeSections(t *testing.T) {
	old := "# B\n\nintro\n\n## Heartbeats\n\nold hb\n\n## Failover\n\nold fo\n\n## Memory\n\nold mem\n"
	partial := "# B\n\nnew intro\n\n## Failover\n\nnew fo\n\n## Failover of RocketMQ-protocol brokers\n\nnew rmq\n"
	want := "# B\n\nintro\n\n## Heartbeats\n\nold hb\n\n## Failover\n\nnew fo\n\n## Failover of RocketMQ-protocol brokers\n\nnew rmq\n## Memory\n\nold mem\n"
	if got := string(mergeSections([]byte(old), []byte(partial))); got != want {
		t.Errorf("merged:\n%s\nwant:\n%s", got, want)
	}
}

func TestWriteTableHasEverySection(t *testing.T) {
	var out bytes.Buffer
	if err := report().WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Heartbeats", sysLedgerless, sysRawLease, sysRawPut, "1.20×", "0.70×",
		"Failover", "resign", "(etcd itself)", "Fan-out", sysLongPoll, sysRawWatch, "0.50×", "1.25×", "1.50×", "Memory", "10.2 KiB above idle"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestWriteMarkdownEndsWithTheCostModel(t *testing.T) {
	var out bytes.Buffer
	if err := report().WriteMarkdown(&out); err != nil {
		t.Fatal(err)
	}
	md := out.String()
	for _, want := range []string{"# Benchmarks", "2 CPUs", "etcd 3.7.3", "```sh\nledgerless bench\n```",
		"## Heartbeats", "## Failover", "## Long-poll fan-out", "## Memory and storage", "## Micro-benchmarks",
		"BenchmarkDecide", "## How the heartbeat path is built", "one in 20.0 heartbeats", "## Targets",
		"| 1,000 | 1,000 |", "| 10,000 | 10,000 |", "| 100,000 | 100,000 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	model := strings.Index(md, "## Cost model")
	if model < 0 || strings.Contains(md[model:], "\n## ") {
		t.Errorf("the cost model is not the last section:\n%s", md)
	}
	// 2 GiB quota / (250 B × 60 s) = 143,165.6 brokers; today's:
	// 2 GiB / (1,000 B × 1 key × 120 s) = 17,895.7.
	if !strings.Contains(md, "at about 143,166 brokers, against 17,896 when every heartbeat wrote") {
		t.Errorf("quota estimate missing:\n%s", md[model:])
	}
	// 1 / 20 µs = 50,000 brokers per core, 4.00× 12,489.
	if !strings.Contains(md, "| brokers per etcd core (today: 2026-11-25's run) | 50,000 | 12,489 | 4.00× | ≥ 3× |") {
		t.Errorf("targets table lacks brokers per core:\n%s", md)
	}
	if !strings.Contains(md, "| etcd keys written per heartbeat | 0.250 | 1.00 | 0.25× | ≤ 0.34 |") {
		t.Errorf("targets table lacks keys written per heartbeat:\n%s", md)
	}
}
