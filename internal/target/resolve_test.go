package target

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/emulator"
)

// fleetYAML has what resolution must cope with: two instances named "api", a private IP reused in
// another VPC, a tag with an empty value, a name that looks like an ID, a name with an escape
// sequence, several states and agent versions.
const fleetYAML = `
region: cn-hangzhou
instances:
  - {id: i-t0web00000000000001, name: web-01, zone: cn-hangzhou-h, privateIp: 10.0.0.1, publicIp: 47.0.0.1,
     tags: {env: prod, role: web}, agent: {version: 2.2.3.512, online: true, sessionManager: true}}
  - {id: i-t0web00000000000002, name: web-02, zone: cn-hangzhou-i, privateIp: 10.0.0.2,
     tags: {env: prod, role: web}, agent: {version: 2.2.3.300, online: true, sessionManager: true}}
  - {id: i-t0api00000000000003, name: api, privateIp: 10.0.1.3, tags: {env: staging},
     agent: {version: 2.2.0.106, online: true, sessionManager: false}}
  - {id: i-t0api00000000000004, name: api, status: Stopped, privateIp: 10.0.1.4, tags: {env: prod}}
  - {id: i-t0vpc00000000000005, name: "evil\e[2Jname", status: Starting, privateIp: 10.0.0.1, tags: {env: ""}}
  - {id: i-t0win00000000000006, name: i-not-an-id, os: Windows, privateIp: 10.0.2.6,
     agent: {version: 2.1.3.600, online: false, sessionManager: true}}
`

func newLister(t *testing.T) (*cloud.Client, *emulator.Emulator) {
	t.Helper()
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	f, err := emulator.ParseFleet([]byte(fleetYAML))
	if err != nil {
		t.Fatal(err)
	}
	e, err := emulator.New(emulator.Options{Fleet: f})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	cred := e.Credential()
	c, err := cloud.New(cloud.Config{Region: e.Region(), Endpoint: e.Endpoint(), AccessKeyID: cred.AccessKeyID, AccessKeySecret: cred.AccessKeySecret})
	if err != nil {
		t.Fatal(err)
	}
	return c, e
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ids(insts []cloud.InstanceInfo) []string {
	var out []string
	for _, in := range insts {
		out = append(out, in.ID)
	}
	slices.Sort(out)
	return out
}

func TestResolve(t *testing.T) {
	c, _ := newLister(t)
	for _, tt := range []struct {
		target   string
		want     []string
		notFound bool
	}{
		{target: "web-01", want: []string{"i-t0web00000000000001"}},
		{target: "admin@web-01", want: []string{"i-t0web00000000000001"}},
		{target: "web-*", want: []string{"i-t0web00000000000001", "i-t0web00000000000002"}},
		{target: "*-0?", notFound: true}, // ? is not a wildcard
		{target: "*eb*", want: []string{"i-t0web00000000000001", "i-t0web00000000000002"}},
		{target: "web", notFound: true}, // a name without * is exact
		{target: "api", want: []string{"i-t0api00000000000003", "i-t0api00000000000004"}},
		{target: "name:i-not-an-id", want: []string{"i-t0win00000000000006"}},
		{target: "tag:env=prod", want: []string{"i-t0api00000000000004", "i-t0web00000000000001", "i-t0web00000000000002"}},
		{target: "tag:role", want: []string{"i-t0web00000000000001", "i-t0web00000000000002"}},
		{target: "tag:env=", want: []string{"i-t0vpc00000000000005"}}, // empty value, not any value
		{target: "tag:env=dev", notFound: true},
		{target: "tag:nokey", notFound: true},
		{target: "10.0.0.2", want: []string{"i-t0web00000000000002"}},
		{target: "10.0.0.1", want: []string{"i-t0vpc00000000000005", "i-t0web00000000000001"}}, // reused in two VPCs
		{target: "47.0.0.1", want: []string{"i-t0web00000000000001"}},                          // public
		{target: "10.9.9.9", notFound: true},
		{target: "nothing-*-here", notFound: true},
	} {
		t.Run(tt.target, func(t *testing.T) {
			spec, err := Parse(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Resolve(testCtx(t), c, spec)
			if tt.notFound {
				var nf *NotFoundError
				if !errors.As(err, &nf) {
					t.Fatalf("got %v, %v; want a NotFoundError", ids(got), err)
				}
				if !strings.Contains(err.Error(), "no instance matches") || !strings.Contains(err.Error(), "--region") {
					t.Errorf("message %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("got %v, want %v", ids(got), tt.want)
			}
		})
	}
}

func TestResolveIDMakesNoCall(t *testing.T) {
	c, e := newLister(t)
	spec, _ := Parse("i-doesnotexist")
	got, err := One(testCtx(t), c, spec, nil)
	if err != nil || got.ID != "i-doesnotexist" {
		t.Fatalf("got %+v, %v", got, err)
	}
	if n := e.Calls("DescribeInstances"); n != 0 {
		t.Errorf("an ID made %d DescribeInstances calls", n)
	}
}

func TestOneAmbiguous(t *testing.T) {
	c, _ := newLister(t)
	spec, _ := Parse("10.0.0.1")
	_, err := One(testCtx(t), c, spec, nil)
	var ae *AmbiguousError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an AmbiguousError", err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a heading and one line per match:\n%s", err)
	}
	if !strings.Contains(lines[0], "IP address 10.0.0.1 matches 2 instances") {
		t.Errorf("heading %q", lines[0])
	}
	for _, want := range [][]string{
		{"i-t0web00000000000001", "web-01", "cn-hangzhou-h", "10.0.0.1", "Running"},
		{"i-t0vpc00000000000005", `evil\x1b[2Jname`, "cn-hangzhou-h", "10.0.0.1", "Starting"},
	} {
		found := false
		for _, l := range lines[1:] {
			if strings.Contains(l, want[0]) {
				found = true
				for _, w := range want[1:] {
					if !strings.Contains(l, w) {
						t.Errorf("line %q lacks %q", l, w)
					}
				}
			}
		}
		if !found {
			t.Errorf("no line for %s in\n%s", want[0], err)
		}
	}
	if strings.ContainsRune(err.Error(), 0x1b) {
		t.Error("the escape character reached the message")
	}
}

func TestOneWithPicker(t *testing.T) {
	c, _ := newLister(t)
	spec, _ := Parse("api")
	var offered []string
	pick := func(_ context.Context, s Spec, m []cloud.InstanceInfo) (cloud.InstanceInfo, error) {
		if s.Raw != "api" {
			t.Errorf("picker got spec %+v", s)
		}
		offered = ids(m)
		return m[1], nil
	}
	got, err := One(testCtx(t), c, spec, pick)
	if err != nil {
		t.Fatal(err)
	}
	if len(offered) != 2 || (got.ID != offered[0] && got.ID != offered[1]) {
		t.Errorf("picked %s of %v", got.ID, offered)
	}
	// A single match never reaches the picker.
	one, _ := Parse("web-01")
	if _, err := One(testCtx(t), c, one, func(context.Context, Spec, []cloud.InstanceInfo) (cloud.InstanceInfo, error) {
		t.Error("picker called for one match")
		return cloud.InstanceInfo{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	cancel := func(context.Context, Spec, []cloud.InstanceInfo) (cloud.InstanceInfo, error) {
		return cloud.InstanceInfo{}, ErrCancelled
	}
	if _, err := One(testCtx(t), c, spec, cancel); !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancel: %v", err)
	}
	stranger := func(context.Context, Spec, []cloud.InstanceInfo) (cloud.InstanceInfo, error) {
		return cloud.InstanceInfo{ID: "i-other"}, nil
	}
	if _, err := One(testCtx(t), c, spec, stranger); err == nil {
		t.Error("a picker may return an instance it was not offered")
	}
}

// fakeLister answers with a fixed list whatever the filter, like a service that ignores one.
type fakeLister struct {
	insts   []cloud.InstanceInfo
	filters []cloud.InstanceFilter
}

func (f *fakeLister) ListInstances(_ context.Context, flt cloud.InstanceFilter) ([]cloud.InstanceInfo, error) {
	f.filters = append(f.filters, flt)
	return f.insts, nil
}

func TestResolveRechecksWhatTheServiceReturns(t *testing.T) {
	l := &fakeLister{insts: []cloud.InstanceInfo{
		{ID: "i-a", Name: "web-01", PrivateIPs: []string{"10.0.0.1"}},
		{ID: "i-b", Name: "web-012", EIP: "8.8.8.8", Tags: map[string]string{"env": "prod"}},
	}}
	for target, want := range map[string]string{"web-01": "i-a", "8.8.8.8": "i-b", "tag:env=prod": "i-b"} {
		spec, _ := Parse(target)
		got, err := Resolve(context.Background(), l, spec)
		if err != nil || len(got) != 1 || got[0].ID != want {
			t.Errorf("%s: %v %v, want only %s", target, ids(got), err, want)
		}
	}
	// An IP is tried as private, then public, then EIP, stopping at the first hit.
	l.filters = nil
	spec, _ := Parse("8.8.8.8")
	_, _ = Resolve(context.Background(), l, spec)
	if len(l.filters) != 3 || l.filters[0].PrivateIPs == nil || l.filters[1].PublicIPs == nil || l.filters[2].EIPs == nil {
		t.Errorf("IP lookups: %+v", l.filters)
	}
}

func TestLinesAligned(t *testing.T) {
	lines := Lines([]cloud.InstanceInfo{
		{ID: "i-a", Name: "short", Zone: "z", PrivateIPs: []string{"10.0.0.1"}, Status: "Running"},
		{ID: "i-bbbbbb", Name: "a-much-longer-name", Status: "Stopped"},
	})
	if len(lines) != 2 || strings.Index(lines[0], "z") != strings.Index(lines[1], "-  ") {
		t.Errorf("columns not aligned:\n%s", strings.Join(lines, "\n"))
	}
}
