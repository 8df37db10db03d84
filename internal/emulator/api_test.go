package emulator

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"
)

// Default-fleet instance IDs (fleet.yaml).
const (
	idDemo    = "i-emu0demo000000001"
	idStopped = "i-emu0stopped000002"
	idNoAgent = "i-emu0noagent000003"
	idOld     = "i-emu0oldagent00004"
	idOffline = "i-emu0offline000005"
	idWindows = "i-emu0windows000006"
)

// testEmulator starts an emulator that Close()s when the test ends. The SDK is kept on loopback:
// no metadata service, no proxy, no DEBUG=dara.
func testEmulator(t *testing.T, opts Options) *Emulator {
	t.Helper()
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	t.Setenv("DEBUG", "")
	e, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// apiClient is the official ECS SDK pointed at e, signing with e's first AccessKey pair.
func apiClient(t *testing.T, e *Emulator) *ecs.Client {
	t.Helper()
	host := strings.TrimPrefix(e.Endpoint(), "http://")
	cred := e.Credential()
	c, err := ecs.NewClient(&openapi.Config{AccessKeyId: tea.String(cred.AccessKeyID),
		AccessKeySecret: tea.String(cred.AccessKeySecret), RegionId: tea.String(e.Region()),
		Endpoint: tea.String(host), Protocol: tea.String("http"), NoProxy: tea.String(host),
		ConnectTimeout: tea.Int(5000), ReadTimeout: tea.Int(10000)})
	if err != nil {
		t.Fatalf("ecs.NewClient: %v", err)
	}
	return c
}

// errorCode returns the code and HTTP status of an SDK error, or fails the test.
func errorCode(t *testing.T, err error) (string, int) {
	t.Helper()
	var se *tea.SDKError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v (%T), want an API error", err, err)
	}
	if !strings.Contains(tea.StringValue(se.Data), `"RequestId"`) {
		t.Errorf("error body %s has no RequestId", tea.StringValue(se.Data))
	}
	return tea.StringValue(se.Code), tea.IntValue(se.StatusCode)
}

func ids(n int) []*string {
	out := make([]*string, n)
	for i := range out {
		out[i] = tea.String(idDemo)
	}
	return out
}

func TestStartTerminalSessionRefusals(t *testing.T) {
	e := testEmulator(t, Options{})
	c := apiClient(t, e)
	req := func(edit func(*ecs.StartTerminalSessionRequest)) *ecs.StartTerminalSessionRequest {
		r := &ecs.StartTerminalSessionRequest{RegionId: tea.String(e.Region()), InstanceId: ids(1)}
		edit(r)
		return r
	}
	tests := []struct {
		name       string
		req        *ecs.StartTerminalSessionRequest
		wantCode   string
		wantStatus int
	}{
		{"11 instances", req(func(r *ecs.StartTerminalSessionRequest) { r.InstanceId = ids(11) }), "InstanceIds.ExceedLimit", 403},
		{"no instance", req(func(r *ecs.StartTerminalSessionRequest) { r.InstanceId = nil }), "MissingParameter", 400},
		{"command and port", req(func(r *ecs.StartTerminalSessionRequest) {
			r.CommandLine, r.PortNumber = tea.String("ls"), tea.Int32(22)
		}), "InvalidParameter", 400},
		{"command and target", req(func(r *ecs.StartTerminalSessionRequest) {
			r.CommandLine, r.TargetServer = tea.String("ls"), tea.String("10.0.0.7")
		}), "InvalidParameter", 400},
		{"target without port", req(func(r *ecs.StartTerminalSessionRequest) { r.TargetServer = tea.String("10.0.0.7") }), "MissingParameter", 400},
		{"port out of range", req(func(r *ecs.StartTerminalSessionRequest) { r.PortNumber = tea.Int32(70000) }), "InvalidParameter", 400},
		{"command too long", req(func(r *ecs.StartTerminalSessionRequest) { r.CommandLine = tea.String(strings.Repeat("x", 513)) }),
			"InvalidCommandLine.LengthExceed", 400},
		{"stopped", req(func(r *ecs.StartTerminalSessionRequest) { r.InstanceId = []*string{tea.String(idStopped)} }), "IncorrectInstanceStatus", 403},
		{"no agent", req(func(r *ecs.StartTerminalSessionRequest) { r.InstanceId = []*string{tea.String(idNoAgent)} }), "InvalidInstance.NoClient", 400},
		{"old agent", req(func(r *ecs.StartTerminalSessionRequest) { r.InstanceId = []*string{tea.String(idOld)} }), "ClientNeedUpgrade", 400},
		{"unknown instance", req(func(r *ecs.StartTerminalSessionRequest) { r.InstanceId = []*string{tea.String("i-nosuch")} }),
			"InvalidInstanceId.NotFound", 404},
		{"other region", req(func(r *ecs.StartTerminalSessionRequest) { r.RegionId = tea.String("cn-beijing") }), "RegionId.ApiNotSupported", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.StartTerminalSession(tt.req)
			code, status := errorCode(t, err)
			if code != tt.wantCode || status != tt.wantStatus {
				t.Errorf("StartTerminalSession = %s (HTTP %d), want %s (HTTP %d)", code, status, tt.wantCode, tt.wantStatus)
			}
		})
	}
	// Refused requests start nothing.
	resp, err := c.DescribeTerminalSessions(&ecs.DescribeTerminalSessionsRequest{RegionId: tea.String(e.Region())})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.Body.Sessions.Session); n != 0 {
		t.Errorf("%d sessions exist after refused starts", n)
	}
}

func TestStartTerminalSessionAnswer(t *testing.T) {
	e := testEmulator(t, Options{})
	c := apiClient(t, e)
	resp, err := c.StartTerminalSession(&ecs.StartTerminalSessionRequest{RegionId: tea.String(e.Region()),
		InstanceId: ids(1), PortNumber: tea.Int32(22)})
	if err != nil {
		t.Fatal(err)
	}
	b := resp.Body
	id, tok, url := tea.StringValue(b.SessionId), tea.StringValue(b.SecurityToken), tea.StringValue(b.WebSocketUrl)
	if !strings.HasPrefix(id, "s-") || tok == "" || tea.StringValue(b.RequestId) == "" {
		t.Errorf("answer = %+v, want a SessionId, SecurityToken and RequestId", b)
	}
	if want := "ws://" + strings.TrimPrefix(e.Endpoint(), "http://") + "/session?sessionId=" + id + "&token=" + tok; url != want {
		t.Errorf("WebSocketUrl = %q, want %q", url, want)
	}
	list, err := c.DescribeTerminalSessions(&ecs.DescribeTerminalSessionsRequest{RegionId: tea.String(e.Region()), SessionId: tea.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	ss := list.Body.Sessions.Session
	if len(ss) != 1 || tea.StringValue(ss[0].SessionId) != id || tea.Int32Value(ss[0].PortNumber) != 22 ||
		tea.StringValue(ss[0].Connections.Connection[0].Status) != "Connecting" {
		t.Errorf("DescribeTerminalSessions = %v, want the one unconnected port-22 session", ss)
	}
	if _, err := c.EndTerminalSession(&ecs.EndTerminalSessionRequest{RegionId: tea.String(e.Region()), SessionId: tea.String(id)}); err != nil {
		t.Fatalf("EndTerminalSession: %v", err)
	}
	_, err = c.EndTerminalSession(&ecs.EndTerminalSessionRequest{RegionId: tea.String(e.Region()), SessionId: tea.String(id)})
	if code, _ := errorCode(t, err); code != "InvalidSessionId.NotFound" {
		t.Errorf("second EndTerminalSession = %s, want InvalidSessionId.NotFound", code)
	}
}

// bigFleet is 25 instances: web-01..web-15 (role web; odd ones env=prod) and db-01..db-10
// (role db; db-09 and db-10 stopped).
func bigFleet(t *testing.T) *Fleet {
	t.Helper()
	var b strings.Builder
	b.WriteString("region: cn-shanghai\ninstances:\n")
	for i := 1; i <= 15; i++ {
		env := "dev"
		if i%2 == 1 {
			env = "prod"
		}
		fmt.Fprintf(&b, "  - {id: i-web%02d, name: web-%02d, privateIp: 10.1.0.%d, tags: {role: web, env: %s}}\n", i, i, i, env)
	}
	for i := 1; i <= 10; i++ {
		status := "Running"
		if i > 8 {
			status = "Stopped"
		}
		fmt.Fprintf(&b, "  - {id: i-db%02d, name: db-%02d, status: %s, privateIp: 10.2.0.%d, tags: {role: db}}\n", i, i, status, i)
	}
	f, err := ParseFleet([]byte(b.String()))
	if err != nil {
		t.Fatalf("ParseFleet: %v", err)
	}
	return f
}

// listAll walks DescribeInstances' NextToken from the first page to the last.
func listAll(t *testing.T, c *ecs.Client, req *ecs.DescribeInstancesRequest) (names []string, pages []int) {
	t.Helper()
	for range 100 {
		resp, err := c.DescribeInstances(req)
		if err != nil {
			t.Fatalf("DescribeInstances: %v", err)
		}
		page := resp.Body.Instances.Instance
		pages = append(pages, len(page))
		for _, in := range page {
			names = append(names, tea.StringValue(in.InstanceName))
		}
		next := tea.StringValue(resp.Body.NextToken)
		if next == "" {
			return names, pages
		}
		r := *req
		r.NextToken = tea.String(next)
		req = &r
	}
	t.Fatal("NextToken never ran out")
	return nil, nil
}

func TestDescribeInstancesPaging(t *testing.T) {
	e := testEmulator(t, Options{Fleet: bigFleet(t)})
	c := apiClient(t, e)
	tests := []struct {
		max       int32
		wantPages []int
	}{
		{10, []int{10, 10, 5}},
		{5, []int{10, 10, 5}}, // below 10 becomes 10
		{12, []int{12, 12, 1}},
		{500, []int{25}}, // above 100 becomes 100
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.max), func(t *testing.T) {
			names, pages := listAll(t, c, &ecs.DescribeInstancesRequest{RegionId: tea.String("cn-shanghai"), MaxResults: tea.Int32(tt.max)})
			if !slices.Equal(pages, tt.wantPages) {
				t.Errorf("page sizes = %v, want %v", pages, tt.wantPages)
			}
			seen := map[string]bool{}
			for _, n := range names {
				if seen[n] {
					t.Errorf("%s listed twice", n)
				}
				seen[n] = true
			}
			if len(seen) != 25 {
				t.Errorf("listed %d distinct instances, want 25", len(seen))
			}
		})
	}
	first, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String("cn-shanghai")})
	if err != nil {
		t.Fatal(err)
	}
	if tea.Int32Value(first.Body.TotalCount) != 25 {
		t.Errorf("TotalCount = %d, want 25", tea.Int32Value(first.Body.TotalCount))
	}
	_, err = c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String("cn-shanghai"), NextToken: tea.String("bogus")})
	if code, _ := errorCode(t, err); code != "InvalidParameter" {
		t.Errorf("bogus NextToken = %s, want InvalidParameter", code)
	}
}

func TestDescribeInstancesFilters(t *testing.T) {
	e := testEmulator(t, Options{Fleet: bigFleet(t)})
	c := apiClient(t, e)
	tag := func(kv ...string) []*ecs.DescribeInstancesRequestTag {
		var out []*ecs.DescribeInstancesRequestTag
		for i := 0; i < len(kv); i += 2 {
			out = append(out, &ecs.DescribeInstancesRequestTag{Key: tea.String(kv[i]), Value: tea.String(kv[i+1])})
		}
		return out
	}
	tests := []struct {
		name string
		req  ecs.DescribeInstancesRequest
		want []string
	}{
		{"name exact", ecs.DescribeInstancesRequest{InstanceName: tea.String("db-03")}, []string{"db-03"}},
		{"name star", ecs.DescribeInstancesRequest{InstanceName: tea.String("web-1*")},
			[]string{"web-10", "web-11", "web-12", "web-13", "web-14", "web-15"}},
		{"name star in the middle", ecs.DescribeInstancesRequest{InstanceName: tea.String("*b-0*")},
			[]string{"web-01", "web-02", "web-03", "web-04", "web-05", "web-06", "web-07", "web-08", "web-09",
				"db-01", "db-02", "db-03", "db-04", "db-05", "db-06", "db-07", "db-08", "db-09"}},
		{"question mark is literal", ecs.DescribeInstancesRequest{InstanceName: tea.String("db-0?")}, nil},
		{"bracket is literal", ecs.DescribeInstancesRequest{InstanceName: tea.String("db-0[12]")}, nil},
		{"tag", ecs.DescribeInstancesRequest{Tag: tag("role", "db"), Status: tea.String("Stopped")}, []string{"db-09", "db-10"}},
		{"two tags", ecs.DescribeInstancesRequest{Tag: tag("role", "web", "env", "prod"), InstanceName: tea.String("web-0*")},
			[]string{"web-01", "web-03", "web-05", "web-07", "web-09"}},
		{"tag key only", ecs.DescribeInstancesRequest{Tag: tag("env", ""), InstanceName: tea.String("web-1*")},
			[]string{"web-10", "web-11", "web-12", "web-13", "web-14", "web-15"}},
		{"tag without match", ecs.DescribeInstancesRequest{Tag: tag("role", "cache")}, nil},
		{"instance IDs", ecs.DescribeInstancesRequest{InstanceIds: tea.String(`["i-db02","i-web07","i-nosuch"]`)}, []string{"web-07", "db-02"}},
		{"private IPs", ecs.DescribeInstancesRequest{PrivateIpAddresses: tea.String(`["10.2.0.4"]`)}, []string{"db-04"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.RegionId, req.MaxResults = tea.String("cn-shanghai"), tea.Int32(100)
			names, _ := listAll(t, c, &req)
			if !slices.Equal(names, tt.want) {
				t.Errorf("names = %v, want %v", names, tt.want)
			}
		})
	}
	_, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String("cn-shanghai"), InstanceIds: tea.String("i-db01")})
	if code, status := errorCode(t, err); code != "InvalidParameter" || status != 400 {
		t.Errorf("InstanceIds as a bare ID = %s (HTTP %d), want InvalidParameter (400)", code, status)
	}
}

func TestDescribeInstancesFields(t *testing.T) {
	e := testEmulator(t, Options{})
	c := apiClient(t, e)
	resp, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(e.Region()),
		InstanceIds: tea.String(`["` + idDemo + `"]`)})
	if err != nil {
		t.Fatal(err)
	}
	in := resp.Body.Instances.Instance
	if len(in) != 1 {
		t.Fatalf("%d instances, want 1", len(in))
	}
	got := in[0]
	var tags []string
	for _, tg := range got.Tags.Tag {
		tags = append(tags, tea.StringValue(tg.TagKey)+"="+tea.StringValue(tg.TagValue))
	}
	if tea.StringValue(got.InstanceName) != "demo-web-01" || tea.StringValue(got.Status) != "Running" ||
		tea.StringValue(got.OSType) != "linux" || tea.StringValue(got.VpcAttributes.PrivateIpAddress.IpAddress[0]) != "10.0.0.11" ||
		tea.StringValue(got.PublicIpAddress.IpAddress[0]) != "47.96.0.11" || !slices.Equal(tags, []string{"env=demo", "role=web"}) {
		t.Errorf("instance = %v, want demo-web-01 as in fleet.yaml", got)
	}
}

func TestDescribeCloudAssistantStatus(t *testing.T) {
	e := testEmulator(t, Options{})
	c := apiClient(t, e)
	resp, err := c.DescribeCloudAssistantStatus(&ecs.DescribeCloudAssistantStatusRequest{RegionId: tea.String(e.Region()),
		InstanceId: []*string{tea.String(idDemo), tea.String(idNoAgent), tea.String(idOld), tea.String(idOffline), tea.String(idWindows)}})
	if err != nil {
		t.Fatal(err)
	}
	type status struct {
		online, version, os string
		sessions            bool
	}
	got := map[string]status{}
	for _, s := range resp.Body.InstanceCloudAssistantStatusSet.InstanceCloudAssistantStatus {
		got[tea.StringValue(s.InstanceId)] = status{tea.StringValue(s.CloudAssistantStatus), tea.StringValue(s.CloudAssistantVersion),
			tea.StringValue(s.OSType), tea.BoolValue(s.SupportSessionManager)}
		if tea.StringValue(s.CloudAssistantStatus) == "true" && tea.StringValue(s.LastHeartbeatTime) == "" {
			t.Errorf("%s is online without a LastHeartbeatTime", tea.StringValue(s.InstanceId))
		}
	}
	want := map[string]status{
		idDemo:    {"true", "2.2.3.1032", "Linux", true},
		idNoAgent: {"false", "", "Linux", false},
		idOld:     {"true", "2.2.0.106", "Linux", false},
		idOffline: {"false", "2.2.3.512", "Linux", true},
		idWindows: {"true", "2.1.3.600", "Windows", true},
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s = %+v, want %+v", id, got[id], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d statuses, want %d: %v", len(got), len(want), got)
	}

	// Without IDs it pages, and OSType filters.
	win, err := c.DescribeCloudAssistantStatus(&ecs.DescribeCloudAssistantStatusRequest{RegionId: tea.String(e.Region()),
		OSType: tea.String("Windows")})
	if err != nil {
		t.Fatal(err)
	}
	if s := win.Body.InstanceCloudAssistantStatusSet.InstanceCloudAssistantStatus; len(s) != 1 || tea.StringValue(s[0].InstanceId) != idWindows {
		t.Errorf("OSType=Windows gave %v, want only %s", s, idWindows)
	}
}

func TestFailNextAndCalls(t *testing.T) {
	e := testEmulator(t, Options{})
	c := apiClient(t, e)
	e.FailNext("DescribeRegions", "Throttling.User", 1)
	_, err := c.DescribeRegions(&ecs.DescribeRegionsRequest{})
	if code, status := errorCode(t, err); code != "Throttling.User" || status != 400 {
		t.Errorf("first DescribeRegions = %s (HTTP %d), want the injected Throttling.User", code, status)
	}
	resp, err := c.DescribeRegions(&ecs.DescribeRegionsRequest{})
	if err != nil {
		t.Fatalf("second DescribeRegions: %v", err)
	}
	if r := resp.Body.Regions.Region; len(r) != 1 || tea.StringValue(r[0].RegionId) != e.Region() {
		t.Errorf("regions = %v, want only %s", r, e.Region())
	}
	if n := e.Calls("DescribeRegions"); n != 2 {
		t.Errorf("Calls(DescribeRegions) = %d, want 2", n)
	}
	_, err = c.DescribeInstances(&ecs.DescribeInstancesRequest{})
	if code, _ := errorCode(t, err); code != "MissingParameter" {
		t.Errorf("DescribeInstances without RegionId = %s, want MissingParameter", code)
	}
}

// TestCloseDoesNotWaitForSpareConnections: Go's transport can leave a connection that never
// sends a request (two requests racing to dial); Close must not wait net/http's 5 s on it.
func TestCloseDoesNotWaitForSpareConnections(t *testing.T) {
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	closeEmu := func() (err error) { once.Do(func() { err = e.Close() }); return err }
	t.Cleanup(func() { _ = closeEmu() })
	addr := strings.TrimPrefix(e.Endpoint(), "http://")
	spare, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer spare.Close()
	// The server accepts in order: once a later connection is answered, the spare one was accepted.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	start := time.Now()
	if err := closeEmu(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v with an idle new connection open", d)
	}
}
