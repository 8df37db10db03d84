package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
)

// Instance is what ecsterm needs to know about a target instance.
type Instance struct {
	ID        string
	Name      string
	Status    string
	OSType    string // "linux" or "windows"
	PrivateIP string
	// Agent fields come from DescribeCloudAssistantStatus.
	AgentOnline    bool
	AgentVersion   string
	SessionManager bool
}

// AgentMissing reports whether the instance has no Cloud Assistant agent at all.
func (in *Instance) AgentMissing() bool { return in.AgentVersion == "" && !in.AgentOnline }

// Windows reports whether the instance runs Windows.
func (in *Instance) Windows() bool { return strings.EqualFold(in.OSType, "windows") }

// NotReadyError says why an instance cannot take a session now, and what to do about it.
type NotReadyError struct {
	InstanceID string
	Problem    string
	Fix        string
}

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("%s: %s; %s", e.InstanceID, e.Problem, e.Fix)
}

// Minimum agent versions for session management: the API page says "later than" these.
var (
	minLinuxAgent   = []int{2, 2, 3, 256}
	minWindowsAgent = []int{2, 1, 3, 256}
)

// Preflight checks that instance id can take a session: session management is enabled for the
// account, the instance exists and is Running, and its Cloud Assistant agent is online, supports
// session management and is new enough. The three API calls do not depend on each other and
// run in parallel.
//
// A Client asks once for several sessions to one instance started close together (connect's
// shell and its -L port sessions, say): a call made while another for the same instance is
// running waits for that one, and a success is reused for preflightReuse. A failure is never
// reused: the next call asks again, so a wait for an instance to start or an agent to come
// online sees the change. Callers waiting on a call share its failure too, unless its caller
// gave up (its context ended): then they ask again themselves.
func (c *Client) Preflight(ctx context.Context, id string) (*Instance, error) {
	for {
		call, first := c.pre.join(id, c.now())
		if first {
			call.inst, call.err = c.preflight(ctx, id)
			call.abandoned = call.err != nil && ctx.Err() != nil
			c.pre.finish(id, call, c.now())
		} else {
			if c.waitHook != nil {
				c.waitHook(call)
			}
			select {
			case <-call.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if call.abandoned {
				// Its caller gave up, which says nothing about the instance: ask again, as
				// ourselves (join starts a new call, or joins one another waiter started).
				continue
			}
		}
		// The instance comes with a not-ready error too (doctor reports every check).
		var in *Instance
		if call.inst != nil {
			copied := *call.inst // callers may keep or change theirs
			in = &copied
		}
		return in, call.err
	}
}

// preflightReuse is how long a successful preflight answers for its instance.
const preflightReuse = 30 * time.Second

// preflightMemo holds each instance's latest preflight: running, or done and successful.
type preflightMemo struct {
	mu    sync.Mutex
	calls map[string]*preflightCall
}

type preflightCall struct {
	done      chan struct{} // closed when the fields below are set
	inst      *Instance
	err       error
	abandoned bool      // it failed because its caller's context ended
	at        time.Time // when it finished
}

// join returns the call that answers for id at now, and whether the caller must make it.
func (m *preflightMemo) join(id string, now time.Time) (*preflightCall, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if call, ok := m.calls[id]; ok {
		select {
		case <-call.done:
			if call.err == nil && now.Sub(call.at) < preflightReuse {
				return call, false
			}
		default:
			return call, false // running
		}
	}
	if m.calls == nil {
		m.calls = map[string]*preflightCall{}
	}
	call := &preflightCall{done: make(chan struct{})}
	m.calls[id] = call
	return call, true
}

// finish publishes call's result; a failure is forgotten at once.
func (m *preflightMemo) finish(id string, call *preflightCall, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	call.at = now
	close(call.done)
	if call.err != nil && m.calls[id] == call {
		delete(m.calls, id)
	}
}

func (c *Client) preflight(ctx context.Context, id string) (*Instance, error) {
	var (
		wg             sync.WaitGroup
		inst           *ecs.DescribeInstancesResponseBodyInstancesInstance
		agent          *ecs.DescribeCloudAssistantStatusResponseBodyInstanceCloudAssistantStatusSetInstanceCloudAssistantStatus
		errInst, errAg error
	)
	var sw, errEnabled = SessionSwitch{Enabled: true}, error(nil)
	wg.Add(3)
	go func() {
		// The account switch the official client checks before every session (docs/protocol.md,
		// Preflight). An error here (a RAM user without this permission, say) does not block
		// the session: the switch only explains a refusal, and the other checks still run.
		defer wg.Done()
		sw, errEnabled = c.SessionSwitch(ctx)
	}()
	go func() {
		defer wg.Done()
		ids, _ := json.Marshal([]string{id})
		req := &ecs.DescribeInstancesRequest{RegionId: dara.String(c.region), InstanceIds: dara.String(string(ids))}
		errInst = c.call(ctx, "DescribeInstances", func() error {
			resp, err := c.sdk().DescribeInstancesWithContext(ctx, req, runtime())
			if err == nil && resp.Body != nil && resp.Body.Instances != nil && len(resp.Body.Instances.Instance) > 0 {
				inst = resp.Body.Instances.Instance[0]
			}
			return err
		})
	}()
	go func() {
		defer wg.Done()
		req := &ecs.DescribeCloudAssistantStatusRequest{RegionId: dara.String(c.region), InstanceId: []*string{dara.String(id)}}
		errAg = c.call(ctx, "DescribeCloudAssistantStatus", func() error {
			resp, err := c.sdk().DescribeCloudAssistantStatusWithContext(ctx, req, runtime())
			if err == nil && resp.Body != nil && resp.Body.InstanceCloudAssistantStatusSet != nil {
				for _, s := range resp.Body.InstanceCloudAssistantStatusSet.InstanceCloudAssistantStatus {
					if dara.StringValue(s.InstanceId) == id {
						agent = s
					}
				}
			}
			return err
		})
	}()
	wg.Wait()
	if errInst != nil {
		return nil, errInst
	}
	if errEnabled != nil {
		c.log.Debug("could not read the account's session switch", "err", errEnabled)
	} else if !sw.Enabled {
		return nil, &NotReadyError{id, "session management is disabled for this account", SwitchFix(sw.Source)}
	}
	if inst == nil {
		return nil, &NotReadyError{id, "no such instance in region " + c.region, "check the ID, or pick the region with --region"}
	}
	if errAg != nil {
		return nil, errAg
	}
	in := &Instance{
		ID: id, Name: dara.StringValue(inst.InstanceName), Status: dara.StringValue(inst.Status),
		OSType: strings.ToLower(dara.StringValue(inst.OSType)),
	}
	if v := inst.VpcAttributes; v != nil && v.PrivateIpAddress != nil && len(v.PrivateIpAddress.IpAddress) > 0 {
		in.PrivateIP = dara.StringValue(v.PrivateIpAddress.IpAddress[0])
	}
	if agent != nil {
		in.AgentOnline = dara.StringValue(agent.CloudAssistantStatus) == "true"
		in.AgentVersion = dara.StringValue(agent.CloudAssistantVersion)
		in.SessionManager = dara.BoolValue(agent.SupportSessionManager)
		if in.OSType == "" {
			in.OSType = strings.ToLower(dara.StringValue(agent.OSType))
		}
	}
	return in, in.Ready()
}

// SwitchFix says how to turn sessions on, by the action that said they are off.
func SwitchFix(source string) string {
	if source == SettingsAction {
		return "enable it in the ECS console (Cloud Assistant, Session Management) or with ModifyCloudAssistantSettings (SessionManagerConfig)"
	}
	return "enable it in the ECS console (Cloud Assistant, Session Management) or with ModifyUserBusinessBehavior"
}

// Ready reports the first reason the instance cannot take a session, or nil.
func (in *Instance) Ready() error {
	switch {
	case in.Status != "Running":
		return &NotReadyError{in.ID, "instance is " + in.Status + ", not Running", "start it first (console or `aliyun ecs StartInstance`)"}
	case in.AgentMissing():
		return &NotReadyError{in.ID, "Cloud Assistant agent is not installed", "install it with --install-agent (InstallCloudAssistant), then reboot the instance"}
	case !in.AgentOnline:
		return &NotReadyError{in.ID, "Cloud Assistant agent " + in.AgentVersion + " is offline", "check that the agent service runs on the instance and can reach Alibaba Cloud"}
	}
	min := minLinuxAgent
	if in.Windows() {
		min = minWindowsAgent
	}
	if !in.SessionManager || !VersionAfter(in.AgentVersion, min) {
		return &NotReadyError{in.ID, fmt.Sprintf("Cloud Assistant agent %s is too old for sessions (need later than %s)", in.AgentVersion, joinVersion(min)),
			"update the agent on the instance"}
	}
	return nil
}

// VersionAfter reports whether dotted version v (an agent's) is later than min; an unparseable
// one is not. It gates both the session check here and behaviour that depends on the agent.
func VersionAfter(v string, min []int) bool {
	parts := strings.Split(v, ".")
	for i, m := range min {
		if i >= len(parts) {
			return false
		}
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 0 {
			return false
		}
		if n != m {
			return n > m
		}
	}
	return len(parts) > len(min) // equal prefix: only a longer version is later
}

func joinVersion(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ".")
}
