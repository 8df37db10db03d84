package target

import "testing"

func TestExpandAlias(t *testing.T) {
	aliases := map[string]string{
		"web":     "admin@i-bp1abc",
		"db":      "tag:role=db",
		"bastion": "name:i-looks-like-id",
		"loop":    "web", // aliases do not chain
		"Mixed":   "i-mixed",
		"empty":   "",
	}
	tests := []struct{ in, want string }{
		{"web", "admin@i-bp1abc"},
		{"root@web", "root@i-bp1abc"},
		{"db", "tag:role=db"},
		{"ops@db", "ops@tag:role=db"},
		{"bastion", "name:i-looks-like-id"},
		{"loop", "web"},
		{"Mixed", "i-mixed"},
		{"mixed", "mixed"},       // names are case-sensitive
		{"web-01", "web-01"},     // only whole names
		{"web*", "web*"},         // patterns are not aliases
		{"i-bp1abc", "i-bp1abc"}, // not an alias
		{"tag:web", "tag:web"},
		{"name:web", "name:web"}, // name: forces the instance name
		{"@web", "@web"},         // left for Parse to refuse
		{"empty", "empty"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ExpandAlias(tt.in, aliases); got != tt.want {
			t.Errorf("ExpandAlias(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := ExpandAlias("web", nil); got != "web" {
		t.Errorf("with no aliases: %q", got)
	}
}
