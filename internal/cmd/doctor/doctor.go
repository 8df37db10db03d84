// Package doctor implements `ecsterm doctor [target]`: every check between this machine and a
// session, one line each with what to do about a failure.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"

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
