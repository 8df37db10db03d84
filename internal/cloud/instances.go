package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
)

// InstanceFilter narrows a DescribeInstances walk. Every field set must match (the API ANDs them).
type InstanceFilter struct {
	IDs        []string // at most 100
	Name       string   // InstanceName; * matches any run of characters
	Status     string   // Pending, Running, Starting, Stopping or Stopped
	Tags       []Tag    // at most 20
	PrivateIPs []string // at most 100 each
	PublicIPs  []string
	EIPs       []string
}

// Tag is a resource tag. In a filter an empty Value matches any value of Key.
type Tag struct{ Key, Value string }

// InstanceInfo is one instance as DescribeInstances lists it: what a user picks a target by.
type InstanceInfo struct {
	ID           string
	Name         string
	Status       string
	OSType       string // "linux" or "windows"
	OSName       string
	Zone         string
	InstanceType string
	PrivateIPs   []string // VPC private addresses, or the classic network's inner ones
	PublicIPs    []string
	EIP          string
	Tags         map[string]string
}

// PrivateIP is the primary private address, or "".
func (i *InstanceInfo) PrivateIP() string { return first(i.PrivateIPs) }

// PublicIP is the first public address, or the EIP, or "".
func (i *InstanceInfo) PublicIP() string {
	if ip := first(i.PublicIPs); ip != "" {
		return ip
	}
	return i.EIP
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// AgentInfo is an instance's Cloud Assistant agent as DescribeCloudAssistantStatus reports it.
type AgentInfo struct {
	Online         bool
	Version        string // empty: not installed (or never reported)
	SessionManager bool
	OSType         string
	LastHeartbeat  string // ISO 8601, as the API gives it
}

// Instance combines a listing with its agent's status into what Ready judges. agent is nil when
// DescribeCloudAssistantStatus said nothing about the instance (no agent).
func (i *InstanceInfo) Instance(agent *AgentInfo) *Instance {
	in := &Instance{ID: i.ID, Name: i.Name, Status: i.Status, OSType: i.OSType, PrivateIP: i.PrivateIP()}
	if agent != nil {
		in.AgentOnline, in.AgentVersion, in.SessionManager = agent.Online, agent.Version, agent.SessionManager
		if in.OSType == "" {
			in.OSType = strings.ToLower(agent.OSType)
		}
	}
	return in
}

// Page sizes: DescribeInstances takes MaxResults up to 100; DescribeCloudAssistantStatus documents
// up to 100 InstanceId.N in older pages and MaxResults 1–50 in newer ones, so batches stay at 50.
const (
	instancesPage = 100
	agentBatch    = 50
	agentParallel = 4
)

// ListInstances walks every DescribeInstances page (MaxResults 100, NextToken) for filter.
func (c *Client) ListInstances(ctx context.Context, f InstanceFilter) ([]InstanceInfo, error) {
	req, err := f.request(c.region)
	if err != nil {
		return nil, err
	}
	var out []InstanceInfo
	err = walk(ctx, c, "DescribeInstances", func(token *string) (*ecs.DescribeInstancesResponseBody, error) {
		req.NextToken = token
		resp, err := c.sdk().DescribeInstancesWithContext(ctx, req, runtime())
		if err != nil {
			return nil, err
		}
		return resp.Body, nil
	}, func(body *ecs.DescribeInstancesResponseBody) (string, string, bool, error) {
		if body == nil {
			return "", "", true, nil
		}
		if body.Instances != nil {
			for _, in := range body.Instances.Instance {
				if in != nil {
					out = append(out, instanceInfo(in))
				}
			}
		}
		return dara.StringValue(body.NextToken), dara.StringValue(body.RequestId), false, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (f *InstanceFilter) request(region string) (*ecs.DescribeInstancesRequest, error) {
	req := &ecs.DescribeInstancesRequest{RegionId: dara.String(region), MaxResults: dara.Int32(instancesPage)}
	lists := []struct {
		name string
		v    []string
		dst  **string
	}{
		{"instance IDs", f.IDs, &req.InstanceIds},
		{"private IPs", f.PrivateIPs, &req.PrivateIpAddresses},
		{"public IPs", f.PublicIPs, &req.PublicIpAddresses},
		{"EIPs", f.EIPs, &req.EipAddresses},
	}
	for _, l := range lists {
		if len(l.v) == 0 {
			continue
		}
		if len(l.v) > 100 {
			return nil, fmt.Errorf("at most 100 %s per DescribeInstances filter, not %d", l.name, len(l.v))
		}
		b, _ := json.Marshal(l.v) // the API takes these as JSON array text, not .N parameters
		*l.dst = dara.String(string(b))
	}
	if f.Name != "" {
		req.InstanceName = dara.String(f.Name)
	}
	if f.Status != "" {
		req.Status = dara.String(f.Status)
	}
	if len(f.Tags) > 20 {
		return nil, fmt.Errorf("at most 20 tag filters, not %d", len(f.Tags))
	}
	for _, t := range f.Tags {
		if t.Key == "" {
			return nil, errors.New("a tag filter needs a key")
		}
		rt := &ecs.DescribeInstancesRequestTag{Key: dara.String(t.Key)}
		if t.Value != "" {
			rt.Value = dara.String(t.Value)
		}
		req.Tag = append(req.Tag, rt)
	}
	return req, nil
}

func instanceInfo(in *ecs.DescribeInstancesResponseBodyInstancesInstance) InstanceInfo {
	i := InstanceInfo{
		ID: dara.StringValue(in.InstanceId), Name: dara.StringValue(in.InstanceName),
		Status: dara.StringValue(in.Status), OSType: strings.ToLower(dara.StringValue(in.OSType)),
		OSName: dara.StringValue(in.OSName), Zone: dara.StringValue(in.ZoneId),
		InstanceType: dara.StringValue(in.InstanceType),
	}
	if v := in.VpcAttributes; v != nil && v.PrivateIpAddress != nil {
		i.PrivateIPs = strs(v.PrivateIpAddress.IpAddress)
	}
	if len(i.PrivateIPs) == 0 && in.InnerIpAddress != nil {
		i.PrivateIPs = strs(in.InnerIpAddress.IpAddress)
	}
	if in.PublicIpAddress != nil {
		i.PublicIPs = strs(in.PublicIpAddress.IpAddress)
	}
	if in.EipAddress != nil {
		i.EIP = dara.StringValue(in.EipAddress.IpAddress)
	}
	if in.Tags != nil && len(in.Tags.Tag) > 0 {
		i.Tags = make(map[string]string, len(in.Tags.Tag))
		for _, t := range in.Tags.Tag {
			if t != nil {
				i.Tags[dara.StringValue(t.TagKey)] = dara.StringValue(t.TagValue)
			}
		}
	}
	return i
}

func strs(in []*string) []string {
	var out []string
	for _, s := range in {
		if v := dara.StringValue(s); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// AgentStatus asks DescribeCloudAssistantStatus about ids, 50 per call and a few calls at a time,
// never one call per instance. An instance the service says nothing about is absent from the map.
func (c *Client) AgentStatus(ctx context.Context, ids []string) (map[string]AgentInfo, error) {
	ids = unique(ids)
	out := make(map[string]AgentInfo, len(ids))
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, agentParallel)
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for start := 0; start < len(ids); start += agentBatch {
		batch := ids[start:min(start+agentBatch, len(ids))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			got, err := c.agentBatch(ctx, batch)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				return
			}
			for id, a := range got {
				out[id] = a
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil && len(ids) > 0 {
		return nil, err
	}
	return out, nil
}

// agentBatch is one batch of AgentStatus. Older docs say paging is ignored when IDs are given;
// newer ones cap MaxResults at 50. Asking for 50 and following NextToken is right either way.
func (c *Client) agentBatch(ctx context.Context, ids []string) (map[string]AgentInfo, error) {
	req := &ecs.DescribeCloudAssistantStatusRequest{RegionId: dara.String(c.region), MaxResults: dara.Int32(agentBatch)}
	for _, id := range ids {
		req.InstanceId = append(req.InstanceId, dara.String(id))
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	out := make(map[string]AgentInfo, len(ids))
	err := walk(ctx, c, "DescribeCloudAssistantStatus", func(token *string) (*ecs.DescribeCloudAssistantStatusResponseBody, error) {
		req.NextToken = token
		resp, err := c.sdk().DescribeCloudAssistantStatusWithContext(ctx, req, runtime())
		if err != nil {
			return nil, err
		}
		return resp.Body, nil
	}, func(body *ecs.DescribeCloudAssistantStatusResponseBody) (string, string, bool, error) {
		if body == nil {
			return "", "", true, nil
		}
		if set := body.InstanceCloudAssistantStatusSet; set != nil {
			for _, s := range set.InstanceCloudAssistantStatus {
				if s == nil || !want[dara.StringValue(s.InstanceId)] {
					continue
				}
				id := dara.StringValue(s.InstanceId)
				out[id] = AgentInfo{
					Online:         dara.StringValue(s.CloudAssistantStatus) == "true",
					Version:        dara.StringValue(s.CloudAssistantVersion),
					SessionManager: dara.BoolValue(s.SupportSessionManager),
					OSType:         dara.StringValue(s.OSType),
					LastHeartbeat:  dara.StringValue(s.LastHeartbeatTime),
				}
			}
		}
		return dara.StringValue(body.NextToken), dara.StringValue(body.RequestId), len(out) == len(want), nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func unique(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// ReadyCheck is one condition of Ready, so that a report (doctor) can show each on its own line.
// Problem and Fix use Ready's words; both are empty when the condition holds.
type ReadyCheck struct {
	Name    string // "running", "agent", "session manager", "agent version"
	OK      bool
	Detail  string // what was seen, e.g. "Running" or "online"
	Problem string
	Fix     string
}

// Checks evaluates each condition of Ready separately, in Ready's order; Ready's error is the
// first failing check's (a test holds the two together). The agent conditions are left out when
// no agent is installed, since nothing can be said about them.
func (in *Instance) Checks() []ReadyCheck {
	fail := func(name, detail string, err *NotReadyError) ReadyCheck {
		c := ReadyCheck{Name: name, Detail: detail, Problem: detail}
		if err != nil {
			c.Problem, c.Fix = err.Problem, err.Fix
		}
		return c
	}
	probe := func(edit func(*Instance)) *NotReadyError {
		c := *in
		edit(&c)
		var nr *NotReadyError
		if errors.As(c.Ready(), &nr) {
			return nr
		}
		return nil
	}
	var out []ReadyCheck
	if in.Status == "Running" {
		out = append(out, ReadyCheck{Name: "running", OK: true, Detail: "Running"})
	} else {
		out = append(out, fail("running", in.Status, probe(func(*Instance) {})))
	}
	// From here on each check is Ready on a copy whose earlier conditions hold.
	running := func(c *Instance) { c.Status = "Running" }
	switch {
	case in.AgentVersion == "" && !in.AgentOnline:
		return append(out, fail("agent", "not installed", probe(running)))
	case !in.AgentOnline:
		out = append(out, fail("agent", "offline", probe(running)))
	default:
		out = append(out, ReadyCheck{Name: "agent", OK: true, Detail: "online"})
	}
	min := minLinuxAgent
	if in.Windows() {
		min = minWindowsAgent
	}
	online := func(c *Instance) { c.Status, c.AgentOnline = "Running", true }
	if in.SessionManager {
		out = append(out, ReadyCheck{Name: "session manager", OK: true, Detail: "supported"})
	} else {
		out = append(out, fail("session manager", "not supported", probe(online)))
	}
	need := "later than " + joinVersion(min)
	if VersionAfter(in.AgentVersion, min) {
		out = append(out, ReadyCheck{Name: "agent version", OK: true, Detail: in.AgentVersion + " (need " + need + ")"})
	} else {
		out = append(out, fail("agent version", in.AgentVersion+" (need "+need+")",
			probe(func(c *Instance) { online(c); c.SessionManager = true })))
	}
	return out
}
