package target

import "strings"

// ExpandAlias replaces s by its alias's target when the instance part of s (after an optional
// user@) is exactly an alias name, as ssh's Host entries work; anything else comes back
// unchanged. A user typed in s wins over one in the alias's target: with web = admin@i-abc,
// "web" is "admin@i-abc" and "root@web" is "root@i-abc". Aliases do not chain: a target that is
// itself an alias name is taken literally, so no set of aliases can loop.
//
// Commands call it on each target argument before Parse.
func ExpandAlias(s string, aliases map[string]string) string {
	if len(aliases) == 0 {
		return s
	}
	user, name := SplitUser(s)
	to, ok := aliases[name]
	if !ok || to == "" || strings.HasPrefix(s, "@") { // "@web" stays an error for Parse
		return s
	}
	if user == "" {
		return to
	}
	_, rest := SplitUser(to)
	return user + "@" + rest
}

// SplitUser cuts the user@ prefix the way Parse does: at the first @, unless the target starts
// with a form prefix (a tag value may hold @).
func SplitUser(s string) (user, rest string) {
	if strings.HasPrefix(s, "tag:") || strings.HasPrefix(s, "name:") {
		return "", s
	}
	if u, r, ok := strings.Cut(s, "@"); ok {
		return u, r
	}
	return "", s
}
