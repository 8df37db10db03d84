// Package sessions implements `ecsterm sessions`: the account's Cloud Assistant sessions in the
// region (DescribeTerminalSessions), and `ecsterm sessions end ID…` (EndTerminalSession), so
// that a session holding the region's quota, or someone's forgotten shell, can be ended.
package sessions

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/complete"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/internal/text"
)

// API is what listing sessions needs of the cloud client; *cloud.Client is the real one.
type API interface {
	// ListInstances resolves targets (target.Resolve).
	target.Lister
	// ListTerminalSessions walks DescribeTerminalSessions for the sessions f selects.
	ListTerminalSessions(ctx context.Context, f cloud.TerminalSessionFilter) ([]cloud.TerminalSession, error)
	// Region is the region listed, for the message when nothing is found.
	Region() string
}

var _ API = (*cloud.Client)(nil)

// Options are the command's inputs: flags and arguments, what it needs of the configuration,
// and its API.
type Options struct {
	IO  *iostreams.IOStreams
	API API
	// Targets are instance IDs, names, tags or IPs; none means every instance.
	Targets []target.Spec
	// States keeps sessions in one of these states (lower case); none keeps all.
	States []string
	JSON   bool // -o json
}

// states are the connection states DescribeTerminalSessions reports.
var states = []string{"Connecting", "Connected", "Terminated", "Failed"}

// NewCmdSessions builds the command. runF replaces sessionsRun in tests of flag parsing.
func NewCmdSessions(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	if runF == nil {
		runF = sessionsRun
	}
	var stateFlags []string
	var active bool
	cmd := &cobra.Command{
		Use:   "sessions [<instance>...]",
		Short: "List the region's Cloud Assistant sessions; end one with 'sessions end'",
		Long: `List the account's Cloud Assistant sessions in the region, as DescribeTerminalSessions
reports them (about four weeks back): the session ID, the instance, the user it runs as, the
client's IP, when it started, its state, and what it is: a shell, or a port and target.

Given instances (IDs, names, tags or IPs, as connect takes them), only their sessions are
listed. --state keeps sessions in the given states; --active is --state Connecting,Connected.

On a terminal the output is a table; piped, the same columns tab-separated without a header;
with -o json, one JSON array with every field the service gives. Every page of the listing
is followed. Text from the service is escaped before it is printed.

'ecsterm sessions end ID...' ends sessions (EndTerminalSession), whoever started them. A
connect whose session is ended this way says so and exits 255.`,
		Example: `  ecsterm sessions
  ecsterm sessions web-01 --active
  ecsterm sessions --state connected -o json | jq -r '.[].session_id'
  ecsterm sessions end s-hz023od0x9abcd`,
		Args:              cobra.ArbitraryArgs, // instances; "end" is the subcommand
		ValidArgsFunction: complete.Targets(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				spec, err := target.Parse(cmdutil.ExpandAlias(f, a))
				if err != nil {
					return &cmdutil.FlagError{Err: err}
				}
				opts.Targets = append(opts.Targets, spec)
			}
			if active {
				stateFlags = append(stateFlags, "Connecting", "Connected")
			}
			for _, s := range stateFlags {
				for _, one := range strings.Split(s, ",") {
					i := slices.IndexFunc(states, func(st string) bool { return strings.EqualFold(st, strings.TrimSpace(one)) })
					if i < 0 {
						return cmdutil.FlagErrorf("--state must be one of %s, not %q", strings.Join(states, ", "), one)
					}
					opts.States = append(opts.States, states[i])
				}
			}
			if f.Config != nil {
				cfg, err := f.Config()
				if err != nil {
					return err
				}
				opts.JSON = cfg.Output == "json"
			}
			client, err := f.Cloud()
			if err != nil {
				return err
			}
			opts.API = client
			return runF(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVar(&stateFlags, "state", nil, "only sessions in these states: "+strings.Join(states, ", ")+" (repeatable or comma-separated)")
	cmd.Flags().BoolVar(&active, "active", false, "only sessions still open: Connecting or Connected")
	cmd.AddCommand(newCmdEnd(f, nil))
	return cmd
}

// Record is one session in -o json. Fields are never left out, so scripts can rely on them.
type Record struct {
	SessionID    string             `json:"session_id"`
	InstanceIDs  []string           `json:"instance_ids"`
	Username     string             `json:"username"`
	ClientIP     string             `json:"client_ip"`
	IdentityType string             `json:"identity_type"`
	PrincipalID  string             `json:"principal_id"`
	CreationTime string             `json:"creation_time"`
	State        string             `json:"state"` // the most alive of the connections' states
	Kind         string             `json:"kind"`  // shell or port
	PortNumber   int                `json:"port_number"`
	TargetServer string             `json:"target_server"`
	Connections  []ConnectionRecord `json:"connections"`
}

// ConnectionRecord is one instance's connection of a session.
type ConnectionRecord struct {
	InstanceID   string `json:"instance_id"`
	Status       string `json:"status"`
	StartTime    string `json:"start_time"`
	EndTime      string `json:"end_time"`
	ClosedReason string `json:"closed_reason"`
	FailedDetail string `json:"failed_detail"`
}

func sessionsRun(ctx context.Context, opts *Options) error {
	recs, err := List(ctx, opts.API, opts.Targets)
	if err != nil {
		return err
	}
	if len(opts.States) > 0 {
		recs = slices.DeleteFunc(recs, func(r Record) bool { return !slices.Contains(opts.States, r.State) })
	}
	ios := opts.IO
	switch {
	case opts.JSON:
		return writeJSON(ios.Out, recs)
	case len(recs) == 0:
		if ios.IsStderrTTY() || ios.IsStdoutTTY() {
			fmt.Fprintln(ios.ErrOut, "no sessions in "+text.OneLine(opts.API.Region())+filtered(opts))
		}
		return nil
	case ios.IsStdoutTTY():
		return cmdutil.WriteTable(ios.Out, header, rows(recs))
	default:
		return cmdutil.WriteTSV(ios.Out, rows(recs))
	}
}

func filtered(opts *Options) string {
	if len(opts.Targets) > 0 || len(opts.States) > 0 {
		return " match"
	}
	return ""
}

// perInstance is how many instances get a listing each; for more (a tag that matches a fleet),
// one listing of the region, kept to those instances here, costs fewer calls.
const perInstance = 5

// List lists the sessions of the instances that specs select (all, with none): one paged
// DescribeTerminalSessions walk per instance, or one for the region. Newest first.
func List(ctx context.Context, client API, specs []target.Spec) ([]Record, error) {
	var filters []cloud.TerminalSessionFilter
	seen := map[string]bool{}
	for _, spec := range specs {
		insts, err := target.Resolve(ctx, client, spec)
		if err != nil {
			return nil, err
		}
		for _, in := range insts {
			if !seen[in.ID] {
				seen[in.ID] = true
				filters = append(filters, cloud.TerminalSessionFilter{InstanceID: in.ID})
			}
		}
	}
	keep := func(*cloud.TerminalSession) bool { return true }
	switch {
	case len(specs) == 0:
		filters = []cloud.TerminalSessionFilter{{}}
	case len(filters) > perInstance:
		filters = []cloud.TerminalSessionFilter{{}}
		keep = func(s *cloud.TerminalSession) bool {
			return slices.ContainsFunc(s.Connections, func(c cloud.TerminalConnection) bool { return seen[c.InstanceID] })
		}
	}
	var recs []Record
	have := map[string]bool{}
	for _, f := range filters {
		list, err := client.ListTerminalSessions(ctx, f)
		if err != nil {
			return nil, err
		}
		for i := range list {
			if !have[list[i].ID] && keep(&list[i]) {
				have[list[i].ID] = true
				recs = append(recs, record(&list[i]))
			}
		}
	}
	slices.SortStableFunc(recs, func(a, b Record) int {
		return cmp.Or(cmp.Compare(b.CreationTime, a.CreationTime), cmp.Compare(a.SessionID, b.SessionID))
	})
	return recs, nil
}

// alive orders connection states from the most alive: a session is as alive as its liveliest
// connection.
var alive = map[string]int{"Connected": 4, "Connecting": 3, "Failed": 2, "Terminated": 1}

func record(s *cloud.TerminalSession) Record {
	r := Record{
		SessionID: s.ID, Username: s.Username, ClientIP: s.ClientIP, IdentityType: s.IdentityType,
		PrincipalID: s.PrincipalID, CreationTime: s.CreationTime, Kind: "shell",
		PortNumber: s.PortNumber, TargetServer: s.TargetServer,
		InstanceIDs: []string{}, Connections: []ConnectionRecord{},
	}
	if s.PortNumber != 0 {
		r.Kind = "port"
	}
	for _, c := range s.Connections {
		r.InstanceIDs = append(r.InstanceIDs, c.InstanceID)
		r.Connections = append(r.Connections, ConnectionRecord{InstanceID: c.InstanceID, Status: c.Status,
			StartTime: c.StartTime, EndTime: c.EndTime, ClosedReason: c.ClosedReason, FailedDetail: c.FailedDetail})
		if alive[c.Status] > alive[r.State] || r.State == "" {
			r.State = c.Status
		}
	}
	return r
}

func writeJSON(w io.Writer, recs []Record) error {
	enc := cmdutil.NewJSONEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(recs)
}

var header = []string{"SESSION", "INSTANCE", "USER", "CLIENT IP", "STARTED", "STATE", "WHAT"}

func cells(r Record) []string {
	what := r.Kind
	if r.Kind == "port" {
		host := r.TargetServer
		if host == "" {
			host = "localhost"
		}
		what = "port " + host + ":" + strconv.Itoa(r.PortNumber)
	}
	var reasons []string
	for _, c := range r.Connections {
		if c.ClosedReason != "" {
			reasons = append(reasons, c.ClosedReason)
		}
	}
	state := r.State
	if len(reasons) > 0 {
		state += " (" + strings.Join(reasons, ", ") + ")"
	}
	out := []string{r.SessionID, strings.Join(r.InstanceIDs, ","), r.Username, r.ClientIP, r.CreationTime, state, what}
	for i, s := range out {
		if s == "" {
			s = "-"
		}
		out[i] = text.OneLine(s) // every field comes from the service: nothing may drive the terminal
	}
	return out
}

// rows escapes every record's cells (see cells) for the table and TSV writers.
func rows(recs []Record) [][]string {
	out := make([][]string, len(recs))
	for i, r := range recs {
		out[i] = cells(r)
	}
	return out
}
