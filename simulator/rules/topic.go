package rules

import (
	"errors"
	"strings"
)

// topicFilter is a validated MQTT topic filter, split into levels once so
// that matching does not allocate.
type topicFilter struct {
	raw    string
	levels []string
}

func parseTopicFilter(f string) (topicFilter, error) {
	if f == "" {
		return topicFilter{}, errors.New("empty filter")
	}
	if strings.IndexByte(f, 0) >= 0 {
		return topicFilter{}, errors.New("filter contains NUL")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return topicFilter{}, errors.New(`"#" must be a whole level and the last one`)
		}
		if strings.Contains(l, "+") && l != "+" {
			return topicFilter{}, errors.New(`"+" must be a whole level`)
		}
	}
	return topicFilter{raw: f, levels: levels}, nil
}

// match applies MQTT 3.1.1 section 4.7 matching: "+" matches one level, a
// trailing "#" matches the parent level and everything below it, and a
// wildcard in the first level never matches a topic that starts with "$".
func (f topicFilter) match(topic string) bool {
	if topic == "" || strings.ContainsAny(topic, "+#") {
		return false
	}
	if topic[0] == '$' && (f.levels[0] == "+" || f.levels[0] == "#") {
		return false
	}
	rest := topic
	done := false // true once every topic level has been consumed
	for _, l := range f.levels {
		if l == "#" {
			return true
		}
		if done {
			return false
		}
		var level string
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			level, rest = rest[:i], rest[i+1:]
		} else {
			level, rest, done = rest, "", true
		}
		if l != "+" && l != level {
			return false
		}
	}
	return done
}

// topicLevel returns the n-th (1-based) level of topic, as topic(n) does.
func topicLevel(topic string, n int64) (string, bool) {
	if n < 1 {
		return "", false
	}
	for i := int64(1); ; i++ {
		j := strings.IndexByte(topic, '/')
		if i == n {
			if j < 0 {
				return topic, true
			}
			return topic[:j], true
		}
		if j < 0 {
			return "", false
		}
		topic = topic[j+1:]
	}
}
