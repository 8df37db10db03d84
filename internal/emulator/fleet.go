package emulator

import (
	_ "embed"
	"fmt"
	"os"
	"path"
	"sort"

	"go.yaml.in/yaml/v3"
)

// Fleet describes the emulated account: its region and instances. It is loaded from YAML so that
// tests and users can reach every preflight branch (stopped instances, missing or old agents...).
type Fleet struct {
	Region string `yaml:"region"`
	// SessionManager is the account's sessionManagerStatus ("enabled" unless set to "disabled").
	// Both DescribeUserBusinessBehavior and DescribeCloudAssistantSettings report it.
	SessionManager string `yaml:"sessionManager"`
	// SessionDelivery is where the service delivers session records (none by default).
	SessionDelivery Delivery   `yaml:"sessionDelivery"`
	Instances       []Instance `yaml:"instances"`
}

// Instance is one emulated ECS instance.
type Instance struct {
	ID        string            `yaml:"id"`
	Name      string            `yaml:"name"`
	Status    string            `yaml:"status"` // Running, Stopped, Starting, Stopping, Pending
	OS        string            `yaml:"os"`     // Linux or Windows
	OSName    string            `yaml:"osName"`
	Zone      string            `yaml:"zone"`
	Type      string            `yaml:"type"`
	PrivateIP string            `yaml:"privateIp"`
	PublicIP  string            `yaml:"publicIp"`
	Tags      map[string]string `yaml:"tags"`
	// Agent is the Cloud Assistant agent; nil means not installed.
	Agent *Agent `yaml:"agent"`
}

// Agent is an instance's Cloud Assistant agent as DescribeCloudAssistantStatus reports it.
type Agent struct {
	Version        string `yaml:"version"`
	Online         bool   `yaml:"online"`
	SessionManager bool   `yaml:"sessionManager"`
}

//go:embed fleet.yaml
var defaultFleetYAML []byte

// DefaultFleet is the fleet the demo and the tests use unless given another: one healthy demo
// instance, and one instance for each way a session can be refused.
func DefaultFleet() *Fleet {
	f, err := ParseFleet(defaultFleetYAML)
	if err != nil {
		panic("embedded fleet.yaml: " + err.Error())
	}
	return f
}

// LoadFleet reads a fleet file.
func LoadFleet(file string) (*Fleet, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	f, err := ParseFleet(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return f, nil
}

// ParseFleet parses and checks fleet YAML.
func ParseFleet(b []byte) (*Fleet, error) {
	var f Fleet
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	if f.Region == "" {
		f.Region = "cn-hangzhou"
	}
	seen := map[string]bool{}
	for i := range f.Instances {
		in := &f.Instances[i]
		if in.ID == "" {
			return nil, fmt.Errorf("instance %d has no id", i+1)
		}
		if seen[in.ID] {
			return nil, fmt.Errorf("instance %s appears twice", in.ID)
		}
		seen[in.ID] = true
		if in.Status == "" {
			in.Status = "Running"
		}
		if in.OS == "" {
			in.OS = "Linux"
		}
		if in.Zone == "" {
			in.Zone = f.Region + "-h"
		}
		if in.Type == "" {
			in.Type = "ecs.g7.large"
		}
	}
	return &f, nil
}

func (f *Fleet) instance(id string) (*Instance, bool) {
	for i := range f.Instances {
		if f.Instances[i].ID == id {
			return &f.Instances[i], true
		}
	}
	return nil, false
}

// sortedTags returns an instance's tags in key order, so API answers are stable.
func (in *Instance) sortedTags() []string {
	keys := make([]string, 0, len(in.Tags))
	for k := range in.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// matchName reports whether name matches pattern, where * matches any run of characters, as
// DescribeInstances' InstanceName filter does.
func matchName(pattern, name string) bool {
	// path.Match treats other metacharacters specially; escape them so only * is a wildcard.
	esc := make([]byte, 0, len(pattern))
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '?', '[', ']', '\\':
			esc = append(esc, '\\', c)
		default:
			esc = append(esc, c)
		}
	}
	ok, err := path.Match(string(esc), name)
	return err == nil && ok
}
