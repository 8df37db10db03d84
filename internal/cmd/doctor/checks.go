package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/target"
)

// endpoint reports whether the endpoint answers and how this machine's clock compares.
func endpoint(ctx context.Context, r *report, client API) bool {
	p, err := client.Probe(ctx)
	if err != nil {
		r.fail("endpoint", "cannot reach it: "+err.Error(),
			"check the network, --endpoint or ECSTERM_ENDPOINT, and HTTPS_PROXY/NO_PROXY")
		return false
	}
	r.ok("endpoint", fmt.Sprintf("%s answers (HTTP %d in %s)", client.Endpoint(), p.Status, p.RTT.Round(time.Millisecond)))
	clock(r, p)
	return true
}

// The service refuses requests signed more than 15 minutes off its clock (IllegalTimestamp);
// doctor warns well before that.
const (
	skewWarn = 5 * time.Minute
	skewFail = 15 * time.Minute
)

func clock(r *report, p *cloud.EndpointProbe) {
	if p.Date.IsZero() {
		r.warn("clock", "the endpoint sent no Date header, so the clocks cannot be compared", "")
		return
	}
	const fix = "sync this machine's clock (e.g. timedatectl set-ntp true)"
	skew := p.Skew
	dir := "behind"
	if skew < 0 {
		skew, dir = -skew, "ahead of"
	}
	msg := fmt.Sprintf("this machine's clock is %s %s the service's", skew, dir)
	switch {
	case skew > skewFail:
		r.fail("clock", msg+"; requests more than 15m off are refused", fix)
	case skew > skewWarn:
		r.warn("clock", msg+"; beyond 15m requests are refused", fix)
	case skew <= time.Second:
		r.ok("clock", "in step with the service's (within 1s)")
	default:
		r.ok("clock", msg)
	}
}

// account reports whether signed requests are accepted and sessions are enabled for the account,
// which action said so, the sessions' connection type and whether the service records them; it
// returns whether the API accepted the request.
func account(ctx context.Context, r *report, client API) bool {
	sw, err := client.SessionSwitch(ctx)
	var ae *cloud.APIError
	switch {
	case err != nil && errors.As(err, &ae) && (strings.HasPrefix(ae.Code, "Forbidden") || strings.HasPrefix(ae.Code, "NoPermission")):
		r.ok("api", "signed requests are accepted")
		r.warn("sessions", "cannot tell whether session management is enabled: "+err.Error(),
			"grant ecs:"+cloud.SettingsAction+" (or ecs:"+cloud.BehaviorAction+") to check, or go on")
	case err != nil:
		r.fail("api", err.Error(), "")
		return false
	default:
		r.ok("api", "signed requests are accepted")
		from := " (" + sw.Source + " answered"
		if sw.Refused != nil {
			from += "; " + cloud.SettingsAction + " was refused: " + refusal(sw.Refused)
		}
		from += ")"
		if sw.Enabled {
			r.ok("sessions", "session management is enabled for the account"+from)
		} else {
			r.fail("sessions", "session management is disabled for the account"+from, cloud.SwitchFix(sw.Source))
		}
	}
	connection(r, client)
	recording(ctx, r, client)
	return true
}

// refusal is an API error's code, or its text when it has none.
func refusal(err error) string {
	var ae *cloud.APIError
	if errors.As(err, &ae) && ae.Code != "" {
		return ae.Code
	}
	return err.Error()
}

// connection reports which network the sessions' WebSocket URLs are for.
func connection(r *report, client API) {
	switch client.ConnectionType() {
	case "Intranet":
		r.ok("connection", "intranet: session URLs are for clients inside the instance's VPC (connection_type)")
	case "Internet":
		r.ok("connection", "internet: session URLs are for clients on the internet (connection_type)")
	default:
		r.ok("connection", "internet, the service's default (connection_type is not set)")
	}
}

// recording reports whether the service delivers the account's session records to OSS or SLS,
// so that a user knows when what they type and see is kept by the service.
func recording(ctx context.Context, r *report, client API) {
	ds, err := client.SessionDelivery(ctx)
	if err != nil {
		r.warn("recording", "cannot tell whether the service records sessions (Session Record Delivery): "+err.Error(), "")
		return
	}
	var on, off []string
	for _, d := range ds {
		if d.Enabled {
			on = append(on, d.Kind+" "+d.Where)
		} else {
			off = append(off, d.Kind)
		}
	}
	if len(on) == 0 {
		msg := "the service does not record sessions: no Session Record Delivery to OSS or SLS"
		if len(off) > 0 {
			msg += " (" + strings.Join(off, " and ") + " configured, but off)"
		}
		r.ok("recording", msg)
		return
	}
	r.ok("recording", "the service records this account's sessions (what is typed and shown): delivered to "+strings.Join(on, "; "))
}

// instance resolves the target and reports each condition of a session on it.
func instance(ctx context.Context, r *report, client API, opts *Options) {
	spec, err := target.Parse(opts.Target)
	if err != nil {
		r.fail("target", err.Error(), "")
		return
	}
	info, err := target.One(ctx, client, spec, opts.Pick)
	var amb *target.AmbiguousError
	switch {
	case errors.As(err, &amb):
		r.add(Result{Check: "target", Status: Fail, Details: target.Lines(amb.Matches),
			Message: fmt.Sprintf("%s matches %d instances", spec.Describe(), len(amb.Matches)),
			Fix:     "give one of these IDs, or a narrower name or tag"})
		return
	case err != nil:
		r.fail("target", err.Error(), "")
		return
	}
	in, err := client.Preflight(ctx, info.ID)
	if in == nil {
		var nr *cloud.NotReadyError
		if errors.As(err, &nr) {
			r.fail("instance", nr.InstanceID+": "+nr.Problem, nr.Fix)
		} else {
			r.fail("instance", err.Error(), "")
		}
		return
	}
	msg := in.ID
	if in.Name != "" {
		msg += " " + in.Name
	}
	msg += " (" + strings.Join(nonEmpty(in.OSType, in.PrivateIP), ", ") + ")"
	if spec.Kind != target.KindID {
		msg += ", found by " + spec.Describe()
	}
	r.ok("instance", msg)
	running := in.Status == "Running"
	for _, c := range in.Checks() {
		switch {
		case c.OK:
			r.ok(c.Name, okMessage(c))
		case c.Name == "agent" && c.Detail == "offline" && !running:
			r.warn(c.Name, "Cloud Assistant agent "+in.AgentVersion+" is offline, as it is while the instance is not running", "")
		default:
			r.fail(c.Name, c.Problem, c.Fix)
		}
	}
}

func okMessage(c cloud.ReadyCheck) string {
	switch c.Name {
	case "running":
		return "instance is Running"
	case "agent":
		return "Cloud Assistant agent is online"
	case "session manager":
		return "the agent supports session management"
	case "agent version":
		return "agent " + c.Detail
	}
	return c.Detail
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
