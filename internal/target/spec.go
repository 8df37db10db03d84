// Package target turns what a user types for an instance (an ID, a name with * wildcards,
// tag:key=value, an IP address, each optionally prefixed with user@) into instances: Parse reads
// the argument without any API call, Resolve lists what matches it, and One insists on exactly
// one, asking a Picker on a terminal and never choosing silently.
//
// The usage pattern for a command:
//
//	spec, err := target.Parse(arg)
//	inst, err := target.One(ctx, client, spec, picker.For(ios)) // internal/target/picker
//	// spec.User is the user part, inst.ID the instance
package target

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/text"
)

// Kind is the form of a target.
type Kind int

// The forms of a target.
const (
	KindID   Kind = iota + 1 // i-bp1eifrtpxa9tb0001
	KindName                 // web-01, web-*, name:i-not-an-id
	KindTag                  // tag:env=prod, tag:env
	KindIP                   // 10.0.0.11 (private) or 47.96.0.11 (public or EIP)
)

func (k Kind) String() string {
	switch k {
	case KindID:
		return "instance ID"
	case KindName:
		return "name"
	case KindTag:
		return "tag"
	case KindIP:
		return "IP address"
	}
	return "unknown"
}

// Spec is a parsed target.
type Spec struct {
	User string // the part before @, or ""
	Raw  string // the argument as given
	Kind Kind
	// Value is the ID, the name pattern or the IP address; for a tag, the key.
	Value string
	// TagValue is the tag's value when HasValue (tag:key=value); tag:key matches any value.
	TagValue string
	HasValue bool
}

// Wildcard reports whether a name target has a * in it.
func (s Spec) Wildcard() bool { return s.Kind == KindName && strings.Contains(s.Value, "*") }

// Describe names the target for messages: `name "web-*"`, `tag env=prod`, `IP 10.0.0.11`.
func (s Spec) Describe() string {
	switch s.Kind {
	case KindTag:
		if s.HasValue {
			return "tag " + text.Escape(s.Value) + "=" + text.Escape(s.TagValue)
		}
		return "tag " + text.Escape(s.Value) + " (any value)"
	case KindName:
		return "name " + quote(s.Value)
	default:
		return s.Kind.String() + " " + text.Escape(s.Value)
	}
}

// Parse reads a target argument. It makes no API call and never guesses between forms: i- and
// lowercase letters and digits is an ID, four dotted numbers an IPv4 address, "tag:" a tag,
// "name:" forces a name (for a name that looks like an ID), and anything else is a name.
func Parse(s string) (Spec, error) {
	spec := Spec{Raw: s}
	rest := s
	if !strings.HasPrefix(s, "tag:") && !strings.HasPrefix(s, "name:") {
		// Instance names cannot contain @ but tag values can, so the user is whatever comes
		// before the first @, and only when the target does not start with a form prefix.
		if user, after, ok := strings.Cut(s, "@"); ok {
			if err := checkUser(user); err != nil {
				return Spec{}, fmt.Errorf("target %s: %w", quote(s), err)
			}
			spec.User, rest = user, after
		}
	}
	if rest == "" {
		return Spec{}, fmt.Errorf("target %s names no instance", quote(s))
	}
	if !utf8.ValidString(rest) || strings.IndexFunc(rest, unicode.IsControl) >= 0 {
		return Spec{}, fmt.Errorf("target %s contains control characters or invalid UTF-8", quote(s))
	}
	switch {
	case strings.HasPrefix(rest, "tag:"):
		kv := strings.TrimPrefix(rest, "tag:")
		key, value, has := strings.Cut(kv, "=")
		if key == "" {
			return Spec{}, fmt.Errorf("target %s has no tag key: use tag:key=value or tag:key", quote(s))
		}
		spec.Kind, spec.Value, spec.TagValue, spec.HasValue = KindTag, key, value, has
	case strings.HasPrefix(rest, "name:"):
		name := strings.TrimPrefix(rest, "name:")
		if name == "" {
			return Spec{}, fmt.Errorf("target %s has no name after name:", quote(s))
		}
		spec.Kind, spec.Value = KindName, name
	case IsID(rest):
		spec.Kind, spec.Value = KindID, rest
	case looksIP(rest):
		a, err := netip.ParseAddr(rest)
		if err != nil || !a.Is4() {
			return Spec{}, fmt.Errorf("target %s is not a valid IPv4 address", quote(s))
		}
		spec.Kind, spec.Value = KindIP, a.String()
	default:
		if a, err := netip.ParseAddr(rest); err == nil && a.Is6() {
			return Spec{}, fmt.Errorf("target %s: IPv6 addresses are not supported; use the instance ID or name", quote(s))
		}
		spec.Kind, spec.Value = KindName, rest
	}
	return spec, nil
}

// ParseTag reads a tag filter, key=value or key (any value), as `instances --tag` takes it.
func ParseTag(s string) (cloud.Tag, error) {
	key, value, _ := strings.Cut(s, "=")
	if key == "" {
		return cloud.Tag{}, fmt.Errorf("tag %s has no key: use key=value or key", quote(s))
	}
	return cloud.Tag{Key: key, Value: value}, nil
}

func checkUser(u string) error {
	if u == "" {
		return errors.New("no user before @")
	}
	for _, r := range u {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == ':' || r == '/' {
			return fmt.Errorf("user %s is not a valid user name", quote(u))
		}
	}
	if !utf8.ValidString(u) {
		return errors.New("user is not valid UTF-8")
	}
	return nil
}

// IsID reports whether s has the shape of an ECS instance ID: "i-" then lowercase letters and
// digits. Instance names may also start with "i-" but, unlike IDs, may hold more hyphens, upper
// case or dots; "name:" is the way to force a name that would pass for an ID.
func IsID(s string) bool {
	if !strings.HasPrefix(s, "i-") || len(s) < 3 {
		return false
	}
	for _, r := range s[2:] {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// looksIP reports whether s is digits and dots only with three dots: meant as an IPv4 address
// (so that 10.0.0.300 is an error rather than a name that matches nothing).
func looksIP(s string) bool {
	if strings.Count(s, ".") != 3 {
		return false
	}
	for _, r := range s {
		if r != '.' && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}
