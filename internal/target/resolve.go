package target

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/text"
)

// Lister lists instances; *cloud.Client is one, and tests may pass another.
type Lister interface {
	ListInstances(ctx context.Context, f cloud.InstanceFilter) ([]cloud.InstanceInfo, error)
}

// Picker chooses one of several matches, or returns an error (ErrCancelled when the user backs
// out). PickerFor gives one on a terminal and nil elsewhere.
type Picker func(ctx context.Context, spec Spec, matches []cloud.InstanceInfo) (cloud.InstanceInfo, error)

// ErrCancelled is returned when the user leaves the picker without choosing. It wraps
// context.Canceled, so the command exits 130 as after Ctrl-C, without a message.
var ErrCancelled = fmt.Errorf("no instance picked: %w", context.Canceled)

// NotFoundError says that a name, tag or IP matched no instance.
type NotFoundError struct{ Spec Spec }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no instance matches %s; check the spelling, or the region with --region (ecsterm instances lists them)", e.Spec.Describe())
}

// AmbiguousError says that a target matched several instances and nothing may choose among them.
// Its message lists every match on its own line, so print it whole rather than flattened.
type AmbiguousError struct {
	Spec    Spec
	Matches []cloud.InstanceInfo
}

func (e *AmbiguousError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s matches %d instances; give one of these IDs, or a narrower name or tag:", e.Spec.Describe(), len(e.Matches))
	for _, l := range Lines(e.Matches) {
		b.WriteString("\n  ")
		b.WriteString(l)
	}
	return b.String()
}

// Resolve lists every instance that spec matches; for an ID it makes no call and returns an
// InstanceInfo with only the ID set (the preflight checks that it exists). A name, tag or IP that
// matches nothing is a *NotFoundError. The service's filters narrow the listing; each match is
// checked again here, so a filter the service reads more loosely (or ignores) cannot widen it.
func Resolve(ctx context.Context, l Lister, spec Spec) ([]cloud.InstanceInfo, error) {
	var (
		out []cloud.InstanceInfo
		err error
	)
	switch spec.Kind {
	case KindID:
		return []cloud.InstanceInfo{{ID: spec.Value}}, nil
	case KindName:
		out, err = list(ctx, l, cloud.InstanceFilter{Name: spec.Value}, func(i *cloud.InstanceInfo) bool { return Match(spec.Value, i.Name) })
	case KindTag:
		f := cloud.InstanceFilter{Tags: []cloud.Tag{{Key: spec.Value, Value: spec.TagValue}}}
		out, err = list(ctx, l, f, func(i *cloud.InstanceInfo) bool {
			v, ok := i.Tags[spec.Value]
			return ok && (!spec.HasValue || v == spec.TagValue)
		})
	case KindIP:
		// One address may be a private one (several VPCs may reuse it), a public one or an EIP;
		// the API ANDs filters, so these are separate lookups, cheapest guess first.
		ip := spec.Value
		for _, try := range []struct {
			f   cloud.InstanceFilter
			has func(*cloud.InstanceInfo) bool
		}{
			{cloud.InstanceFilter{PrivateIPs: []string{ip}}, func(i *cloud.InstanceInfo) bool { return slices.Contains(i.PrivateIPs, ip) }},
			{cloud.InstanceFilter{PublicIPs: []string{ip}}, func(i *cloud.InstanceInfo) bool { return slices.Contains(i.PublicIPs, ip) }},
			{cloud.InstanceFilter{EIPs: []string{ip}}, func(i *cloud.InstanceInfo) bool { return i.EIP == ip }},
		} {
			if out, err = list(ctx, l, try.f, try.has); err != nil || len(out) > 0 {
				break
			}
		}
	default:
		return nil, fmt.Errorf("target %s: unknown kind", quote(spec.Raw))
	}
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, &NotFoundError{Spec: spec}
	}
	return out, nil
}

func list(ctx context.Context, l Lister, f cloud.InstanceFilter, keep func(*cloud.InstanceInfo) bool) ([]cloud.InstanceInfo, error) {
	all, err := l.ListInstances(ctx, f)
	if err != nil {
		return nil, err
	}
	var out []cloud.InstanceInfo
	for i := range all {
		if keep(&all[i]) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// One resolves spec to exactly one instance. Several matches go to pick when it is not nil and
// are otherwise an *AmbiguousError that lists them: never a silent first match.
func One(ctx context.Context, l Lister, spec Spec, pick Picker) (cloud.InstanceInfo, error) {
	matches, err := Resolve(ctx, l, spec)
	if err != nil {
		return cloud.InstanceInfo{}, err
	}
	if len(matches) == 1 {
		return matches[0], nil
	}
	if pick == nil {
		return cloud.InstanceInfo{}, &AmbiguousError{Spec: spec, Matches: matches}
	}
	inst, err := pick(ctx, spec, matches)
	if err != nil {
		return cloud.InstanceInfo{}, err
	}
	if !slices.ContainsFunc(matches, func(m cloud.InstanceInfo) bool { return m.ID == inst.ID }) {
		return cloud.InstanceInfo{}, errors.New("the picker returned an instance that was not offered")
	}
	return inst, nil
}

// Match reports whether name matches pattern, where * matches any run of characters (including
// none) and every other character only itself, as DescribeInstances' InstanceName filter does.
func Match(pattern, name string) bool {
	// Greedy with backtracking to the last star: linear in practice, no recursion.
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			p, mark = star+1, mark+1
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Lines formats instances one per line (ID, name, zone, private IP, state) in aligned columns,
// with control characters escaped so that a name cannot move the cursor or fake a line.
func Lines(insts []cloud.InstanceInfo) []string {
	rows := make([][]string, len(insts))
	width := make([]int, 5)
	for i := range insts {
		in := &insts[i]
		rows[i] = []string{text.Escape(in.ID), text.Escape(orDash(in.Name)), text.Escape(orDash(in.Zone)), text.Escape(orDash(in.PrivateIP())), text.Escape(orDash(in.Status))}
		for c, s := range rows[i] {
			width[c] = max(width[c], utf8.RuneCountInString(s))
		}
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		var b strings.Builder
		for c, s := range r {
			b.WriteString(s)
			if c < len(r)-1 {
				b.WriteString(strings.Repeat(" ", width[c]-utf8.RuneCountInString(s)+2))
			}
		}
		out[i] = b.String()
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func quote(s string) string { return `"` + text.Escape(s) + `"` }
