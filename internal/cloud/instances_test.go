package cloud

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// bigFleet has n instances: every third stopped, every fifth without an agent, names fleet-NNN
// and tag shard=N%4.
func bigFleet(t *testing.T, n int) *emulator.Fleet {
	t.Helper()
	var b strings.Builder
	b.WriteString("region: cn-hangzhou\ninstances:\n")
	for i := range n {
		status := "Running"
		if i%3 == 0 {
			status = "Stopped"
		}
		fmt.Fprintf(&b, "  - id: i-big%016d\n    name: fleet-%03d\n    status: %s\n    privateIp: 10.1.%d.%d\n    tags: {shard: \"%d\"}\n",
			i, i, status, i/200, i%200+1, i%4)
		if i%5 != 0 {
			b.WriteString("    agent: {version: 2.2.3.512, online: true, sessionManager: true}\n")
		}
	}
	f, err := emulator.ParseFleet([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestListInstancesPagesWithNextToken(t *testing.T) {
	e := newEmulator(t, emulator.Options{Fleet: bigFleet(t, 250)})
	c := newClient(t, e, nil)
	got, err := c.ListInstances(ctx(t), InstanceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 250 {
		t.Fatalf("listed %d instances, want 250", len(got))
	}
	if n := e.Calls("DescribeInstances"); n != 3 {
		t.Errorf("DescribeInstances calls = %d, want 3 pages of at most 100", n)
	}
	seen := map[string]bool{}
	for _, in := range got {
		if seen[in.ID] {
			t.Errorf("%s listed twice", in.ID)
		}
		seen[in.ID] = true
	}
	first := got[0]
	if first.ID != "i-big0000000000000000" || first.Name != "fleet-000" || first.Status != "Stopped" || first.OSType != "linux" ||
		first.PrivateIP() != "10.1.0.1" || first.Tags["shard"] != "0" || first.Zone != "cn-hangzhou-h" || first.InstanceType == "" {
		t.Errorf("first instance = %+v", first)
	}
}

func TestListInstancesFilters(t *testing.T) {
	e := newEmulator(t, emulator.Options{})
	c := newClient(t, e, nil)
	for _, tc := range []struct {
		name string
		f    InstanceFilter
		want []string
	}{
		{"name wildcard", InstanceFilter{Name: "demo-w*"}, []string{idReady, idWindows}},
		{"status", InstanceFilter{Status: "Stopped"}, []string{idStopped}},
		{"tag with value", InstanceFilter{Tags: []Tag{{"role", "web"}}}, []string{idReady}},
		{"tag any value", InstanceFilter{Tags: []Tag{{"env", ""}}}, []string{idReady, idStopped}},
		{"private IP", InstanceFilter{PrivateIPs: []string{"10.0.0.14"}}, []string{idOld}},
		{"public IP", InstanceFilter{PublicIPs: []string{"47.96.0.11"}}, []string{idReady}},
		{"IDs", InstanceFilter{IDs: []string{idOffline, idNoAgent}}, []string{idNoAgent, idOffline}},
		{"nothing", InstanceFilter{Name: "nope"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.ListInstances(ctx(t), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, in := range got {
				ids = append(ids, in.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", ids, tc.want)
			}
		})
	}
	if _, err := c.ListInstances(ctx(t), InstanceFilter{Tags: make([]Tag, 21)}); err == nil {
		t.Error("21 tag filters accepted")
	}
}

func TestAgentStatusBatchesOf50(t *testing.T) {
	e := newEmulator(t, emulator.Options{Fleet: bigFleet(t, 120)})
	c := newClient(t, e, nil)
	var ids []string
	for i := range 120 {
		ids = append(ids, fmt.Sprintf("i-big%016d", i))
	}
	ids = append(ids, ids[0], "i-notinthefleet") // duplicates are asked once; unknown IDs are absent
	got, err := c.AgentStatus(ctx(t), ids)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.Calls("DescribeCloudAssistantStatus"); n != 3 {
		t.Errorf("DescribeCloudAssistantStatus calls = %d, want 3 (121 IDs, 50 a call)", n)
	}
	if len(got) != 120 {
		t.Errorf("%d statuses, want 120", len(got))
	}
	if a := got["i-big0000000000000001"]; !a.Online || a.Version != "2.2.3.512" || !a.SessionManager || a.LastHeartbeat == "" {
		t.Errorf("agent 1 = %+v", a)
	}
	if a := got["i-big0000000000000005"]; a.Online || a.Version != "" {
		t.Errorf("agent 5 (none installed) = %+v", a)
	}
	if _, err := c.AgentStatus(ctx(t), nil); err != nil {
		t.Errorf("no IDs: %v", err)
	}
	if n := e.Calls("DescribeCloudAssistantStatus"); n != 3 {
		t.Errorf("no IDs still called the API (%d calls)", n)
	}
}

func TestAgentStatusErrorStopsTheRest(t *testing.T) {
	before := goleak.IgnoreCurrent()
	isolate(t)
	e, err := emulator.New(emulator.Options{Fleet: bigFleet(t, 300)})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, e, func(cfg *Config) { cfg.Attempts = 1 })
	e.FailNext("DescribeCloudAssistantStatus", "Forbidden.RAM", 1)
	var ids []string
	for i := range 300 {
		ids = append(ids, fmt.Sprintf("i-big%016d", i))
	}
	_, err = c.AgentStatus(ctx(t), ids)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "Forbidden.RAM" {
		t.Fatalf("err = %v, want Forbidden.RAM", err)
	}
	if n := e.Calls("DescribeCloudAssistantStatus"); n > 6 {
		t.Errorf("%d calls for 6 batches", n)
	}
	_ = e.Close()
	// The SDK's pooled keep-alive connections notice the closed server in their own time; they
	// are not the batches this test is about.
	goleak.VerifyNone(t, before,
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"))
}

// TestChecksAgreeWithReady: the first failing check is exactly Ready's error, and all pass when
// Ready does, for every combination that matters.
func TestChecksAgreeWithReady(t *testing.T) {
	for _, status := range []string{"Running", "Stopped", "Starting"} {
		for _, os := range []string{"linux", "windows"} {
			for _, version := range []string{"", "2.2.0.106", "2.1.3.300", "2.2.3.256", "2.2.3.512"} {
				for _, online := range []bool{false, true} {
					for _, sm := range []bool{false, true} {
						in := &Instance{ID: "i-x", Status: status, OSType: os, AgentVersion: version, AgentOnline: online, SessionManager: sm}
						name := fmt.Sprintf("%s/%s/%q/online=%v/sm=%v", status, os, version, online, sm)
						ready := in.Ready()
						var firstFail *ReadyCheck
						checks := in.Checks()
						for i := range checks {
							if !checks[i].OK {
								firstFail = &checks[i]
								break
							}
						}
						switch {
						case ready == nil && firstFail != nil:
							t.Errorf("%s: Ready passes but check %q fails", name, firstFail.Name)
						case ready != nil && firstFail == nil:
							t.Errorf("%s: Ready fails (%v) but every check passes", name, ready)
						case ready != nil:
							var nr *NotReadyError
							if !errors.As(ready, &nr) || nr.Problem != firstFail.Problem || nr.Fix != firstFail.Fix {
								t.Errorf("%s: Ready says %v; first failing check %+v", name, ready, *firstFail)
							}
						}
						for _, c := range checks {
							if !c.OK && (c.Problem == "" || c.Fix == "") {
								t.Errorf("%s: check %q fails without a problem and a fix", name, c.Name)
							}
						}
					}
				}
			}
		}
	}
}

func TestInstanceFromInfo(t *testing.T) {
	info := InstanceInfo{ID: "i-a", Name: "a", Status: "Running", PrivateIPs: []string{"10.0.0.1", "10.0.0.2"}}
	if err := info.Instance(nil).Ready(); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("no agent: %v", err)
	}
	in := info.Instance(&AgentInfo{Online: true, Version: "2.1.3.600", SessionManager: true, OSType: "Windows"})
	if !in.Windows() || in.PrivateIP != "10.0.0.1" || in.Ready() != nil {
		t.Errorf("instance = %+v, ready %v", in, in.Ready())
	}
	if (&InstanceInfo{EIP: "1.2.3.4"}).PublicIP() != "1.2.3.4" {
		t.Error("EIP is not the public IP")
	}
}

func TestSessionsEnabled(t *testing.T) {
	for _, mode := range []string{"enabled", "disabled"} {
		f := emulator.DefaultFleet()
		f.SessionManager = mode
		e := newEmulator(t, emulator.Options{Fleet: f})
		c := newClient(t, e, nil)
		on, err := c.SessionsEnabled(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if on != (mode == "enabled") {
			t.Errorf("%s: SessionsEnabled = %v", mode, on)
		}
	}
}

func TestProbe(t *testing.T) {
	e := newEmulator(t, emulator.Options{})
	c := newClient(t, e, nil)
	if c.Endpoint() != e.Endpoint() {
		t.Errorf("Endpoint() = %q, want %q", c.Endpoint(), e.Endpoint())
	}
	p, err := c.Probe(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Status < 400 || p.Date.IsZero() {
		t.Errorf("probe = %+v, want an error status and a Date", p)
	}
	if p.Skew < -2*time.Second || p.Skew > 2*time.Second {
		t.Errorf("skew against a local server = %v", p.Skew)
	}

	addr := e.Endpoint()
	e.Close()
	if _, err := c.Probe(ctx(t)); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(addr, "http://")) {
		t.Errorf("probe of a closed endpoint: %v", err)
	}
}

func TestDefaultEndpointIsTLS(t *testing.T) {
	c := newClient(t, newEmulator(t, emulator.Options{}), func(cfg *Config) { cfg.Endpoint = "" })
	if ep := c.Endpoint(); !strings.HasPrefix(ep, "https://") || !strings.Contains(ep, "aliyuncs.com") {
		t.Errorf("default endpoint = %q", ep)
	}
}

func TestFindCredentials(t *testing.T) {
	isolate(t)
	if _, err := FindCredentials(Config{}); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("no credentials: %v", err)
	}
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIexample")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s3cret-value")
	src, err := FindCredentials(Config{})
	if err != nil || !strings.Contains(src, "env") || strings.Contains(src, "s3cret") {
		t.Errorf("env credentials: %q, %v", src, err)
	}
}
