package awsdrill

import (
	"encoding/json"
	"maps"
	"path/filepath"
	"strings"
	"testing"
)

func stackOutputs() (primary, secondary map[string]any) {
	primary = map[string]any{
		"role": "primary", "region": "us-east-1", "primaryRegion": "us-east-1", "secondaryRegion": "us-west-2",
		"domain": "iot.example.com", "healthCheckId": "hc-primary", "iotEndpoint": "abc-ats.iot.us-east-1.amazonaws.com",
		"probeForceFailParameter": "/iotdr/probe/force-fail", "alarmNames": []any{"a", "b"},
	}
	secondary = map[string]any{
		"role": "secondary", "region": "us-west-2", "primaryRegion": "us-east-1", "secondaryRegion": "us-west-2",
		"domain": "iot.example.com", "healthCheckId": "hc-secondary", "primaryHealthCheckId": "hc-primary",
		"iotEndpoint": "abc-ats.iot.us-west-2.amazonaws.com", "probeForceFailParameter": "/iotdr/probe/force-fail",
		"functionNames": map[string]any{"thing": "iotdr-thing"},
	}
	return primary, secondary
}

func TestLoadOutputs(t *testing.T) {
	want := Deployment{PrimaryRegion: "us-east-1", SecondaryRegion: "us-west-2", Domain: "iot.example.com",
		PrimaryHealthCheckID: "hc-primary", SecondaryHealthCheckID: "hc-secondary", ForceFailParameter: "/iotdr/probe/force-fail",
		PrimaryEndpoint: "abc-ats.iot.us-east-1.amazonaws.com", SecondaryEndpoint: "abc-ats.iot.us-west-2.amazonaws.com"}
	p, s := stackOutputs()
	cases := []struct {
		name  string
		files func(t *testing.T) []string
	}{
		{"two files", func(t *testing.T) []string {
			return []string{writeJSON(t, "p.json", p), writeJSON(t, "s.json", s)}
		}},
		{"two files, secondary first", func(t *testing.T) []string {
			return []string{writeJSON(t, "s.json", s), writeJSON(t, "p.json", p)}
		}},
		{"one merged file", func(t *testing.T) []string {
			return []string{writeJSON(t, "both.json", map[string]any{"primary": p, "secondary": s})}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadOutputs(tc.files(t)...)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestLoadOutputsBadInput: every broken file or inconsistent pair gets an error that
// says what is wrong.
func TestLoadOutputsBadInput(t *testing.T) {
	p, s := stackOutputs()
	with := func(m map[string]any, key string, v any) map[string]any {
		c := maps.Clone(m)
		if v == nil {
			delete(c, key)
		} else {
			c[key] = v
		}
		return c
	}
	cases := []struct {
		name  string
		files func(t *testing.T) []string
		want  string
	}{
		{"no file", func(*testing.T) []string { return nil }, "pass --stack-outputs"},
		{"missing file", func(t *testing.T) []string { return []string{filepath.Join(t.TempDir(), "nope.json")} }, "no such file"},
		{"not JSON", func(t *testing.T) []string { return []string{writeFile(t, "x.json", "Current stack outputs (3):")} },
			"not the JSON object `pulumi stack output --json` prints"},
		{"JSON array", func(t *testing.T) []string { return []string{writeFile(t, "x.json", "[1]")} }, "not the JSON object"},
		{"neither form", func(t *testing.T) []string { return []string{writeJSON(t, "x.json", map[string]any{"domain": "x"})} },
			`neither one stack's outputs (no "role" output)`},
		{"only the primary", func(t *testing.T) []string { return []string{writeJSON(t, "p.json", p)} }, "no secondary stack outputs"},
		{"two primaries", func(t *testing.T) []string {
			return []string{writeJSON(t, "a.json", p), writeJSON(t, "b.json", p)}
		}, "both"},
		{"unknown role", func(t *testing.T) []string {
			return []string{writeJSON(t, "a.json", with(p, "role", "tertiary")), writeJSON(t, "s.json", s)}
		}, `"tertiary"`},
		{"missing force-fail parameter", func(t *testing.T) []string {
			return []string{writeJSON(t, "p.json", with(p, "probeForceFailParameter", nil)), writeJSON(t, "s.json", s)}
		}, `the primary stack has no output "probeForceFailParameter"`},
		{"secondary without primaryHealthCheckId", func(t *testing.T) []string {
			return []string{writeJSON(t, "p.json", p), writeJSON(t, "s.json", with(s, "primaryHealthCheckId", nil))}
		}, `the secondary stack has no output "primaryHealthCheckId"`},
		{"non-string output", func(t *testing.T) []string {
			return []string{writeJSON(t, "p.json", with(p, "healthCheckId", 42.0)), writeJSON(t, "s.json", s)}
		}, `output "healthCheckId" is not a string`},
		{"different domains", func(t *testing.T) []string {
			return []string{writeJSON(t, "p.json", p), writeJSON(t, "s.json", with(s, "domain", "iot.other.com"))}
		}, "different domains"},
		{"different deployments", func(t *testing.T) []string {
			return []string{writeJSON(t, "p.json", p), writeJSON(t, "s.json", with(s, "primaryHealthCheckId", "hc-other"))}
		}, "from different deployments"},
		{"different Region pair", func(t *testing.T) []string {
			return []string{writeJSON(t, "p.json", with(p, "secondaryRegion", "eu-west-1")), writeJSON(t, "s.json", s)}
		}, "replicates to eu-west-1"},
		{"merged with a swapped stack", func(t *testing.T) []string {
			return []string{writeJSON(t, "both.json", map[string]any{"primary": s, "secondary": s})}
		}, `"primary" holds the outputs of the secondary stack`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadOutputs(tc.files(t)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestStackOutputsOfTheFront: the simulator front's outputs are what the drill accepts
// (the shape infra exports).
func TestStackOutputsOfTheFront(t *testing.T) {
	s := startSim(t)
	p, sec := s.front.StackOutputs()
	data, err := json.Marshal(map[string]any{"primary": p, "secondary": sec})
	if err != nil {
		t.Fatal(err)
	}
	d, err := LoadOutputs(writeFile(t, "both.json", string(data)))
	if err != nil {
		t.Fatal(err)
	}
	if d.PrimaryRegion != s.w.Primary.Name || d.Domain != s.w.Options().Domain || d.PrimaryHealthCheckID != s.front.HealthCheckID(s.w.Primary.Name) {
		t.Errorf("deployment %+v", d)
	}
}
