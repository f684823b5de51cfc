package rules

import "testing"

func TestTopicFilterMatch(t *testing.T) {
	tests := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/b/c", false},
		{"a/b", "a", false},
		{"a/+", "a/b", true},
		{"a/+", "a/", true},
		{"a/+", "a/b/c", false},
		{"a/+/c", "a/b/c", true},
		{"a/#", "a", true},
		{"a/#", "a/b/c/d", true},
		{"a/#", "ab", false},
		{"#", "a/b", true},
		{"+/+", "a/b", true},
		{"+", "a", true},
		{"+", "/a", false},
		{"/+", "/a", true},
		{"#", "$aws/events/thing/x/created", false},
		{"+/events/#", "$aws/events/thing/x/created", false},
		{"$aws/events/#", "$aws/events/thing/x/created", true},
		{"$aws/events/#", "$aws/events", true},
		{"$aws/events/#", "$aws/eventsX/y", false},
		{"$aws/things/+/shadow/+/accepted", "$aws/things/t1/shadow/update/accepted", true},
		{"$aws/things/+/shadow/+/accepted", "$aws/things/t1/shadow/name/n/update/accepted", false},
		{"A/b", "a/b", false},
		{"a/b", "a/+", false},
		{"a/#", "a/#", false},
		{"a/b", "", false},
	}
	for _, tt := range tests {
		f, err := parseTopicFilter(tt.filter)
		if err != nil {
			t.Fatalf("parseTopicFilter(%q): %v", tt.filter, err)
		}
		if got := f.match(tt.topic); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.filter, tt.topic, got, tt.want)
		}
	}
}

func TestTopicFilterInvalid(t *testing.T) {
	for _, f := range []string{"", "a/#/b", "a#", "a/b+", "+a", "##", "a/\x00"} {
		if _, err := parseTopicFilter(f); err == nil {
			t.Errorf("parseTopicFilter(%q) accepted an invalid filter", f)
		}
	}
}

func TestTopicLevel(t *testing.T) {
	tests := []struct {
		topic string
		n     int64
		want  string
		ok    bool
	}{
		{"$aws/things/t1/shadow/update/accepted", 1, "$aws", true},
		{"$aws/things/t1/shadow/update/accepted", 3, "t1", true},
		{"$aws/things/t1/shadow/update/accepted", 6, "accepted", true},
		{"$aws/things/t1/shadow/update/accepted", 7, "", false},
		{"a//c", 2, "", true},
		{"a", 0, "", false},
		{"a", -1, "", false},
	}
	for _, tt := range tests {
		got, ok := topicLevel(tt.topic, tt.n)
		if got != tt.want || ok != tt.ok {
			t.Errorf("topicLevel(%q, %d) = %q, %v; want %q, %v", tt.topic, tt.n, got, ok, tt.want, tt.ok)
		}
	}
}
