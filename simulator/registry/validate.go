package registry

import (
	"sort"
	"unicode/utf8"
)

const (
	maxAttributes       = 50
	maxAttributePayload = 47 * 1024 // bytes (UTF-8) of names plus values
	maxAttrNameLen      = 128
	maxAttrValueLen     = 800
	maxNameLen          = 128
)

// validName checks a thing, thing type or thing group name: [a-zA-Z0-9:_-]+,
// 1 to 128 characters. Hand-written rather than a regexp: it is on the
// CreateThing hot path.
func validName(kind, name string) error {
	if name == "" || len(name) > maxNameLen {
		return invalid("%s name must be 1 to %d characters long, got %d", kind, maxNameLen, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != ':' && c != '_' && c != '-' {
			return invalid("%s name %q does not match [a-zA-Z0-9:_-]+", kind, excerpt(name))
		}
	}
	return nil
}

// validPolicyName checks [\w+=,.@-]+, 1 to 128 characters.
func validPolicyName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return invalid("Policy name must be 1 to %d characters long, got %d", maxNameLen, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '_' && c != '+' && c != '=' && c != ',' && c != '.' && c != '@' && c != '-' {
			return invalid("Policy name %q does not match [\\w+=,.@-]+", excerpt(name))
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validAttrName checks an attribute name: [a-zA-Z0-9_.,@/:#=\[\]-]+, at most
// 128 characters.
func validAttrName(name string) error {
	if name == "" || len(name) > maxAttrNameLen {
		return invalid("Attribute name %q must be 1 to %d characters long", excerpt(name), maxAttrNameLen)
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case isAlnum(c):
		case c == '_' || c == '.' || c == ',' || c == '@' || c == '/' || c == ':' ||
			c == '#' || c == '=' || c == '[' || c == ']' || c == '-':
		default:
			return invalid("Attribute name %q does not match [a-zA-Z0-9_.,@/:#=\\[\\]-]+", excerpt(name))
		}
	}
	return nil
}

// validateAttributes checks every name and value of an attribute payload
// (empty values included: they are removals under merge).
func validateAttributes(attrs map[string]string) error {
	// Sorted so that the error names the same attribute on every run.
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := validAttrName(k); err != nil {
			return err
		}
		if n := utf8.RuneCountInString(attrs[k]); n > maxAttrValueLen {
			return invalid("Value of attribute %q is %d characters long, the maximum is %d", k, n, maxAttrValueLen)
		}
	}
	return nil
}

// checkAttributeLimits checks the resulting attribute set of a thing or group.
func checkAttributeLimits(attrs map[string]string) error {
	if len(attrs) > maxAttributes {
		return invalid("A resource can have at most %d attributes, got %d", maxAttributes, len(attrs))
	}
	size := 0
	for k, v := range attrs {
		size += len(k) + len(v)
	}
	if size > maxAttributePayload {
		return invalid("The attribute payload is %d bytes, the maximum is %d", size, maxAttributePayload)
	}
	return nil
}

// applyAttributes returns the attributes that result from applying payload
// to current, as AWS does: merge=false replaces them all, merge=true updates
// the named ones and removes those given an empty value. Empty values never
// end up stored.
func applyAttributes(current, payload map[string]string, merge bool) map[string]string {
	var out map[string]string
	if merge {
		out = copyMap(current)
	} else {
		out = make(map[string]string, len(payload))
	}
	for k, v := range payload {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

func sameAttributes(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
