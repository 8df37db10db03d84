// Package instances implements `ecsterm instances` (alias ls): what can I reach, and is its agent
// ready for a session?
package instances

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/internal/text"
)

// API is what the command needs of the cloud client; *cloud.Client is the real one.
type API interface {
	// ListInstances walks DescribeInstances for the instances filter selects.
	ListInstances(ctx context.Context, filter cloud.InstanceFilter) ([]cloud.InstanceInfo, error)
	// AgentStatus asks DescribeCloudAssistantStatus about ids, 50 a call.
	AgentStatus(ctx context.Context, ids []string) (map[string]cloud.AgentInfo, error)
	// Region is the region listed, for the message when nothing is found.
	Region() string
}

var _ API = (*cloud.Client)(nil)

// Options are the command's inputs: flags, what it needs of the configuration, and its API.
type Options struct {
	IO     *iostreams.IOStreams
	API    API
	Filter cloud.InstanceFilter
	JSON   bool // -o json
}

// states are DescribeInstances' Status values.
var states = []string{"Pending", "Running", "Starting", "Stopping", "Stopped"}

// NewCmdInstances builds the command. runF replaces instancesRun in tests of flag parsing.
func NewCmdInstances(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	if runF == nil {
		runF = instancesRun
	}
	var tags []string
	var state string
	cmd := &cobra.Command{
		Use:     "instances",
		Aliases: []string{"ls"},
		Short:   "List instances and whether each can take a session",
		Long: `List the region's instances with their state, private IP, Cloud Assistant agent and whether
a session can start on them now (and if not, the short reason).

On a terminal the output is a table; piped, it is the same columns tab-separated without a
header; with -o json it is one JSON array with every field. It takes one paged listing and one
agent status call per 50 instances, however many instances there are.`,
		Example: `  ecsterm instances
  ecsterm ls --name 'web-*' --state Running
  ecsterm instances --tag env=prod --tag role
  ecsterm instances -o json | jq -r '.[] | select(.session.ready) | .instance_id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, s := range tags {
				tag, err := target.ParseTag(s)
				if err != nil {
					return cmdutil.FlagErrorf("--tag: %w", err)
				}
				opts.Filter.Tags = append(opts.Filter.Tags, tag)
			}
			if len(opts.Filter.Tags) > 20 {
				return cmdutil.FlagErrorf("at most 20 --tag filters")
			}
			if state != "" {
				i := slices.IndexFunc(states, func(s string) bool { return strings.EqualFold(s, state) })
				if i < 0 {
					return cmdutil.FlagErrorf("--state must be one of %s, not %q", strings.Join(states, ", "), state)
				}
				opts.Filter.Status = states[i]
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
	fl := cmd.Flags()
	fl.StringVar(&opts.Filter.Name, "name", "", "only instances whose name matches (* matches anything)")
	fl.StringArrayVar(&tags, "tag", nil, "only instances with this tag, key=value or key for any value (repeatable; all must match)")
	fl.StringVar(&state, "state", "", "only instances in this state: "+strings.Join(states, ", "))
	return cmd
}

// Record is one instance in -o json. The field order is the output's and stays stable; fields
// are never left out, so scripts can rely on them.
type Record struct {
	InstanceID   string            `json:"instance_id"`
	Name         string            `json:"name"`
	State        string            `json:"state"`
	OS           string            `json:"os"`
	OSName       string            `json:"os_name"`
	Zone         string            `json:"zone"`
	InstanceType string            `json:"instance_type"`
	PrivateIP    string            `json:"private_ip"`
	PublicIP     string            `json:"public_ip"` // a public address, or the EIP
	Tags         map[string]string `json:"tags"`
	Agent        AgentRecord       `json:"agent"`
	Session      SessionRecord     `json:"session"`
}

// AgentRecord is the Cloud Assistant agent as DescribeCloudAssistantStatus reports it.
type AgentRecord struct {
	Status         string `json:"status"` // online, offline or none
	Version        string `json:"version"`
	SessionManager bool   `json:"session_manager"`
	LastHeartbeat  string `json:"last_heartbeat"`
}

// SessionRecord says whether a session can start now; when not, why and what to do.
type SessionRecord struct {
	Ready   bool   `json:"ready"`
	Reason  string `json:"reason"`  // short: stopped, no agent, agent offline, agent too old
	Problem string `json:"problem"` // the preflight's words
	Fix     string `json:"fix"`
}

func instancesRun(ctx context.Context, opts *Options) error {
	recs, err := List(ctx, opts.API, opts.Filter)
	if err != nil {
		return err
	}
	ios := opts.IO
	switch {
	case opts.JSON:
		return writeJSON(ios.Out, recs)
	case len(recs) == 0:
		if ios.IsStderrTTY() || ios.IsStdoutTTY() {
			msg := "no instances in " + opts.API.Region()
			if !reflect.ValueOf(opts.Filter).IsZero() {
				msg += " match the filters"
			}
			fmt.Fprintln(ios.ErrOut, msg)
		}
		return nil
	case ios.IsStdoutTTY():
		return cmdutil.WriteTable(ios.Out, header, rows(recs))
	default:
		return cmdutil.WriteTSV(ios.Out, rows(recs))
	}
}

// List lists the instances that filter selects with their agents' status: one paged
// DescribeInstances walk, then DescribeCloudAssistantStatus 50 instances a call. Records are
// ordered by name, then ID.
func List(ctx context.Context, client API, filter cloud.InstanceFilter) ([]Record, error) {
	insts, err := client.ListInstances(ctx, filter)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(insts))
	for i := range insts {
		ids[i] = insts[i].ID
	}
	var agents map[string]cloud.AgentInfo
	if len(ids) > 0 {
		if agents, err = client.AgentStatus(ctx, ids); err != nil {
			return nil, err
		}
	}
	recs := make([]Record, 0, len(insts))
	for i := range insts {
		var agent *cloud.AgentInfo
		if a, ok := agents[insts[i].ID]; ok {
			agent = &a
		}
		recs = append(recs, record(&insts[i], agent))
	}
	slices.SortStableFunc(recs, func(a, b Record) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.InstanceID, b.InstanceID))
	})
	return recs, nil
}

func record(info *cloud.InstanceInfo, agent *cloud.AgentInfo) Record {
	r := Record{
		InstanceID: info.ID, Name: info.Name, State: info.Status, OS: info.OSType, OSName: info.OSName,
		Zone: info.Zone, InstanceType: info.InstanceType, PrivateIP: info.PrivateIP(), PublicIP: info.PublicIP(),
		Tags: info.Tags,
	}
	if r.Tags == nil {
		r.Tags = map[string]string{}
	}
	in := info.Instance(agent)
	if r.OS == "" {
		r.OS = in.OSType
	}
	r.Agent.Status = "none"
	if agent != nil {
		r.Agent = AgentRecord{Status: "offline", Version: agent.Version, SessionManager: agent.SessionManager, LastHeartbeat: agent.LastHeartbeat}
		switch {
		case agent.Online:
			r.Agent.Status = "online"
		case agent.Version == "":
			r.Agent.Status = "none"
		}
	}
	r.Session.Ready = true
	for _, c := range in.Checks() {
		if !c.OK {
			r.Session = SessionRecord{Reason: reason(c), Problem: c.Problem, Fix: c.Fix}
			break
		}
	}
	return r
}

// reason is the few words of the SESSION column for the first failing check.
func reason(c cloud.ReadyCheck) string {
	switch c.Name {
	case "running":
		return strings.ToLower(c.Detail)
	case "agent":
		if c.Detail == "not installed" {
			return "no agent"
		}
		return "agent " + c.Detail
	default:
		return "agent too old"
	}
}

func writeJSON(w io.Writer, recs []Record) error {
	enc := cmdutil.NewJSONEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(recs)
}

var header = []string{"ID", "NAME", "STATE", "OS", "PRIVATE IP", "AGENT", "SESSION"}

func cells(r Record) []string {
	agent := r.Agent.Status
	if r.Agent.Version != "" {
		agent += " " + r.Agent.Version
	}
	session := "yes"
	if !r.Session.Ready {
		session = "no (" + r.Session.Reason + ")"
	}
	out := []string{r.InstanceID, r.Name, r.State, r.OS, r.PrivateIP, agent, session}
	for i, s := range out {
		if s == "" {
			s = "-"
		}
		out[i] = text.Escape(s) // names come from the account: no escape sequences reach the terminal
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
