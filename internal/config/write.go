package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// Set writes key = value into the YAML config file, creating it (mode 0600, its directory 0700)
// when needed. key is one of Keys() except aliases, or alias.NAME for a target alias. The value
// is checked as Load would check it, so a file Set wrote always loads; the rest of the file, its
// comments included, is kept. The file is replaced atomically: a crash leaves the old one whole.
func Set(file, key, value string) error {
	name, alias, err := parseKey(key)
	if err != nil {
		return err
	}
	node, err := valueNode(name, alias, value)
	if err != nil {
		return err
	}
	return edit(file, func(root *yaml.Node) error {
		if alias == "" {
			setKey(root, name, node)
			return nil
		}
		aliases := lookup(root, "aliases")
		if aliases == nil || aliases.Kind != yaml.MappingNode {
			aliases = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			setKey(root, "aliases", aliases)
		}
		setKey(aliases, alias, node)
		return nil
	})
}

// CheckKey reports whether Set and Unset take key, without touching any file.
func CheckKey(key string) error {
	_, _, err := parseKey(key)
	return err
}

// Check reports whether Set would take key = value, without touching any file, so that a
// command can tell a usage error from a failure to write.
func Check(key, value string) error {
	name, alias, err := parseKey(key)
	if err != nil {
		return err
	}
	_, err = valueNode(name, alias, value)
	return err
}

// Unset removes key (or alias.NAME) from the config file, so that the next source in the
// precedence applies. It wraps ErrNotSet when the file does not set it.
func Unset(file, key string) error {
	name, alias, err := parseKey(key)
	if err != nil {
		return err
	}
	return edit(file, func(root *yaml.Node) error {
		if alias == "" {
			if !deleteKey(root, name) {
				return fmt.Errorf("%s is %w %s", name, ErrNotSet, file)
			}
			return nil
		}
		aliases := lookup(root, "aliases")
		if aliases == nil || aliases.Kind != yaml.MappingNode || !deleteKey(aliases, alias) {
			return fmt.Errorf("alias %s is %w %s", alias, ErrNotSet, file)
		}
		if len(aliases.Content) == 0 {
			deleteKey(root, "aliases")
		}
		return nil
	})
}

// parseKey reads a key as `ecsterm config set` takes it: a setting, or alias.NAME (aliases.NAME
// also works). Setting names are case-insensitive, alias names are kept as typed.
func parseKey(key string) (name, alias string, err error) {
	if prefix, rest, ok := strings.Cut(key, "."); ok && (strings.EqualFold(prefix, "alias") || strings.EqualFold(prefix, "aliases")) {
		if err := CheckAliasName(rest); err != nil {
			return "", "", err
		}
		return "aliases", rest, nil
	}
	name = strings.ToLower(key)
	switch name {
	case "aliases", "alias":
		return "", "", errors.New("give one alias as alias.NAME, e.g. alias.web i-bp1eifrtpxa9tb0001")
	case "":
		return "", "", errors.New("no key given")
	}
	for _, k := range keys {
		if k == name {
			return name, "", nil
		}
	}
	return "", "", fmt.Errorf("unknown key %q: use one of %s, or alias.NAME", key, strings.Join(keys[:len(keys)-1], ", "))
}

// valueNode checks value for key and returns it as the YAML node to store: a bool for quiet and
// debug, a string (quoted as YAML needs, so "~" stays a tilde and not null) otherwise.
func valueNode(name, alias, value string) (*yaml.Node, error) {
	var v any = value
	what := name
	if alias != "" {
		what = "alias " + alias
	}
	if err := checkText(what, value); err != nil {
		if value == "" {
			return nil, fmt.Errorf("%w; unset removes a setting", err)
		}
		return nil, err
	}
	switch name {
	case "region", "endpoint":
		if strings.ContainsFunc(value, unicode.IsSpace) {
			return nil, fmt.Errorf("%s %q contains spaces", name, value)
		}
	case "output":
		if value != "text" && value != "json" {
			return nil, fmt.Errorf("output format %q is not text or json", value)
		}
	case "quiet", "debug":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return nil, fmt.Errorf("%s %q is not true or false", name, value)
		}
		v = b
	case "escape":
		if err := checkEscape(value); err != nil {
			return nil, err
		}
	case "persist":
		if _, err := ParsePersist(value); err != nil {
			return nil, err
		}
	case "connection_type":
		ct, err := ParseConnectionType(value)
		if err != nil {
			return nil, err
		}
		v = ct
	}
	n := &yaml.Node{}
	if err := n.Encode(v); err != nil {
		return nil, err
	}
	return n, nil
}

// edit applies fn to the top-level mapping of the YAML file and writes the result back. A
// symbolic link (a dotfiles manager's) is followed, so the file it points to is what changes.
func edit(file string, fn func(root *yaml.Node) error) error {
	if file == "" {
		return errors.New("no config file: no user config directory, give --config")
	}
	path := file
	if real, err := filepath.EvalSymlinks(file); err == nil {
		path = real
	}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", file, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("reading %s: %w", file, err)
	}
	if doc.Kind == 0 {
		doc.Kind = yaml.DocumentNode
	}
	if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" { // empty, comments only, or "---"
		doc.Content = []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s is not a YAML mapping of settings; fix or remove it", file)
	}
	if err := fn(root); err != nil {
		return err
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	return WritePrivate(path, out.Bytes())
}

// lookup returns the value node of key in mapping m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setKey sets key in mapping m, in place when present (keeping its comments), else at the end.
func setKey(m *yaml.Node, key string, value *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			value.LineComment = m.Content[i+1].LineComment
			m.Content[i+1] = value
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, value)
}

// deleteKey removes every occurrence of key from mapping m and reports whether there was one.
func deleteKey(m *yaml.Node, key string) bool {
	found := false
	for i := 0; i+1 < len(m.Content); {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			found = true
			continue
		}
		i += 2
	}
	return found
}

// WritePrivate replaces path with data, readable and writable by the user alone (0600, in a
// directory created 0700): the files ecsterm writes, its config and its caches, are nobody
// else's. It writes a temporary file beside path and renames it over path, so that a reader
// sees the old content or the new, never half of it.
func WritePrivate(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp") // created 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
