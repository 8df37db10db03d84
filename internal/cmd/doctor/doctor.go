// Package doctor implements `ecsterm doctor [target]`: every check between this machine and a
// session, one line each with what to do about a failure.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/complete"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/internal/target/picker"
	"github.com/ecsterm/ecsterm/internal/text"
)

// API is what doctor needs of the cloud client; *cloud.Client is the real one.
type API interface {
	// CredentialSource names the provider the credentials came from (never the secret).
	CredentialSource() string
	Region() string
	Endpoint() string
	// ConnectionType is the network session URLs are for (connection_type).
	ConnectionType() string
	// Probe asks the endpoint for its clock, unsigned.
	Probe(ctx context.Context) (*cloud.EndpointProbe, error)
	// SessionSwitch says whether session management is enabled for the account, and which
	// action said so.
	SessionSwitch(ctx context.Context) (cloud.SessionSwitch, error)
	// SessionDelivery lists where the service delivers session records.
	SessionDelivery(ctx context.Context) ([]cloud.Delivery, error)
	// ListInstances resolves the target (target.One).
	target.Lister
	// Preflight checks one instance's readiness for a session.
	Preflight(ctx context.Context, id string) (*cloud.Instance, error)
}

var _ API = (*cloud.Client)(nil)

// Options are doctor's inputs. Doctor reports a configuration or client that fails as a check
// of its own, so RunE keeps their errors here instead of returning them.
type Options struct {
	IO *iostreams.IOStreams
	// Config is the resolved configuration; nil when it failed, and ConfigErr says why.
	Config    *config.Config
	ConfigErr error
	// API is the client; nil when it could not be built, and APIErr says why.
	API    API
	APIErr error
	// Credentials looks for credentials alone (cloud.FindCredentials), to tell apart what
	// failed when the client could not be built; it returns the provider's name.
	Credentials func(profile string) (string, error)
	Target      string
	JSON        bool          // -o json
	Pick        target.Picker // nil: an ambiguous target fails with the list of matches
}

// NewCmdDoctor builds the command. runF replaces doctorRun in tests of argument parsing.
func NewCmdDoctor(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Credentials: findCredentials}
	if runF == nil {
		runF = doctorRun
	}
	cmd := &cobra.Command{
		Use:   "doctor [[user@]<instance>]",
		Short: "Check credentials, region, endpoint, clock and account, and an instance's readiness",
		Long: `Check, one line each, what a session needs: credentials (and where they come from, never
the secret), the region, that the API endpoint answers, this machine's clock against the
service's, that signed requests are accepted, that session management is enabled for the
account (and which API action said so), the network session URLs are for (--connection-type),
and whether the service itself records sessions (Session Record Delivery to OSS or SLS).
With an instance (ID, name, tag:key=value or IP), also that it resolves to one
instance, is Running, and has an online Cloud Assistant agent that supports sessions.

Each line starts with ok, warn or FAIL; a FAIL says what to do. The exit status is 0 when
nothing failed and 255 otherwise.`,
		Example: `  ecsterm doctor
  ecsterm doctor web-01
  ecsterm doctor -o json i-bp1eifrtpxa9tb0001`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: complete.Targets(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Config, opts.ConfigErr = f.Config()
			if opts.ConfigErr != nil {
				opts.Config = nil
			}
			cfg := opts.Config
			if cfg != nil {
				opts.JSON = cfg.Output == "json"
			}
			if len(args) == 1 {
				opts.Target = args[0]
				if cfg != nil {
					opts.Target = target.ExpandAlias(opts.Target, cfg.Aliases())
				}
				if _, err := target.Parse(opts.Target); err != nil {
					return cmdutil.FlagErrorf("%w", err)
				}
			}
			if cfg != nil { // with no configuration, there is no client to build
				if client, err := f.Cloud(); err != nil {
					opts.APIErr = err
				} else {
					opts.API = client
				}
			}
			opts.Pick = picker.For(opts.IO)
			return runF(cmd.Context(), opts)
		},
	}
	return cmd
}

// Statuses of a check.
const (
	OK   = "ok"
	Warn = "warn"
	Fail = "FAIL"
)

// Result is one check, and one record of -o json.
type Result struct {
	Check   string   `json:"check"`
	Status  string   `json:"status"`
	Message string   `json:"message"`
	Fix     string   `json:"fix"`
	Details []string `json:"details"` // further lines, e.g. the instances an ambiguous target matched
}

// report prints results as they come (text) or gathers them (JSON).
type report struct {
	w       io.Writer
	json    bool
	results []Result
	failed  bool
}

func (r *report) add(res Result) {
	res.Message = text.OneLine(res.Message)
	if res.Details == nil {
		res.Details = []string{}
	}
	r.results = append(r.results, res)
	r.failed = r.failed || res.Status == Fail
	if r.json {
		return
	}
	line := fmt.Sprintf("%-4s  %-15s  %s", res.Status, res.Check, res.Message)
	if res.Fix != "" {
		line += "; " + res.Fix
	}
	fmt.Fprintln(r.w, line)
	for _, d := range res.Details {
		fmt.Fprintln(r.w, "                       "+text.Escape(d))
	}
}

func (r *report) ok(check, msg string) { r.add(Result{Check: check, Status: OK, Message: msg}) }
func (r *report) warn(check, msg, fix string) {
	r.add(Result{Check: check, Status: Warn, Message: msg, Fix: fix})
}
func (r *report) fail(check, msg, fix string) {
	r.add(Result{Check: check, Status: Fail, Message: msg, Fix: fix})
}

func (r *report) finish() error {
	if r.json {
		enc := cmdutil.NewJSONEncoder(r.w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r.results); err != nil {
			return err
		}
	}
	if r.failed {
		return cmdutil.ErrSilent // exit 255; the lines said it all
	}
	return nil
}

func doctorRun(ctx context.Context, opts *Options) error {
	r := &report{w: opts.IO.Out, json: opts.JSON}
	client := setup(r, opts)
	if client == nil {
		return r.finish()
	}
	if !endpoint(ctx, r, client) {
		return r.finish()
	}
	apiOK := account(ctx, r, client)
	if opts.Target != "" {
		if apiOK {
			instance(ctx, r, client, opts)
		} else {
			r.warn("target", "not checked: the API did not accept the requests above", "")
		}
	}
	return r.finish()
}

// findCredentials is Options.Credentials outside tests.
func findCredentials(profile string) (string, error) {
	return cloud.FindCredentials(cloud.Config{Profile: profile})
}

// setup reports the configuration, credentials and region, and returns the client or nil.
func setup(r *report, opts *Options) API {
	cfg := opts.Config
	if cfg == nil {
		r.fail("config", fmt.Sprint(opts.ConfigErr), "fix the flag, variable or config file it names")
		return nil
	}
	client, err := opts.API, opts.APIErr
	if client != nil {
		r.ok("credentials", "found, from provider "+client.CredentialSource())
		r.ok("region", client.Region())
		return client
	}
	if err == nil {
		err = errors.New("no API client")
	}
	// cloud.New stops at the first problem; find out about the others on their own.
	find := opts.Credentials
	if find == nil {
		find = findCredentials
	}
	if src, cerr := find(cfg.Profile); cerr != nil {
		r.fail("credentials", cerr.Error(), "")
	} else {
		r.ok("credentials", "found, from provider "+src)
	}
	if cfg.Region == "" {
		r.fail("region", "no region is set", "use --region, ALIBABA_CLOUD_REGION_ID or a profile's region_id")
	} else {
		r.ok("region", cfg.Region)
	}
	if !errors.Is(err, cloud.ErrNoCredentials) && cfg.Region != "" {
		r.fail("endpoint", err.Error(), "fix --endpoint or ECSTERM_ENDPOINT")
	}
	return nil
}

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
