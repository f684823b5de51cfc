package spec

import (
	"slices"
	"strings"
	"testing"
)

// TestRegistryEventConfigurations: the event configurations enabled are exactly the
// registry event types the pipeline applies (EventTypes without the shadow event, as
// AWS names them without the _EVENT suffix), and a registry rule selects each one's
// topic kind.
func TestRegistryEventConfigurations(t *testing.T) {
	got := RegistryEventConfigurations()
	var want []string
	for _, e := range EventTypes {
		if e != EventShadow {
			want = append(want, strings.TrimSuffix(e, "_EVENT"))
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("event configurations %v, want %v", got, want)
	}
	var sql []string
	for _, r := range CaptureRules() {
		sql = append(sql, r.SQL)
	}
	for _, c := range got {
		// THING_TYPE_ASSOCIATION -> thingTypeAssociation, the topic's third level.
		words := strings.Split(strings.ToLower(c), "_")
		for i := 1; i < len(words); i++ {
			words[i] = strings.ToUpper(words[i][:1]) + words[i][1:]
		}
		if from := "FROM '" + RegistryRuleTopic(strings.Join(words, "")) + "'"; !slices.ContainsFunc(sql, func(s string) bool { return strings.Contains(s, from) }) {
			t.Errorf("no registry rule captures %s (%s)", c, from)
		}
	}
}

func TestParameterAndResourceNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{ForceFailParameter(DefaultPrefix), "/iotdr/probe/force-fail"},
		{ForceFailParameter("acme-dr"), "/acme-dr/probe/force-fail"},
		{ProbeParameter("acme-dr", "secret"), "/acme-dr/probe/secret"},
		{DomainConfigurationName(DefaultPrefix), "iotdr-devices"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestPrefixed(t *testing.T) {
	for _, tc := range []struct{ prefix, name, want string }{
		{DefaultPrefix, DevicePolicyName, DevicePolicyName},
		{"acme-dr", DevicePolicyName, "acme-dr-device"},
		{"acme-dr", ProbePolicyName, "acme-dr-probe"},
		{"acme-dr", ShadowRuleName, "acme_dr_shadow_capture"},
		{"acme", "unrelated", "unrelated"},
	} {
		if got := Prefixed(tc.prefix, tc.name); got != tc.want {
			t.Errorf("Prefixed(%q, %q) = %q, want %q", tc.prefix, tc.name, got, tc.want)
		}
	}
}
