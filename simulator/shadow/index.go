package shadow

import "fmt"

// IndexedFields returns a shadow's reported and desired values flattened to the
// field names fleet indexing gives them (shadow.reported.<path> for the classic
// shadow, shadow.name.<name>.reported.<path> for a named one), for the registry's
// dynamic thing groups; ok is false when the shadow does not exist. It is not an
// API call: no quota, no metering, no availability check (the index is AWS's own
// copy, not a call on the shadow service).
func (s *Service) IndexedFields(thingName, shadowName string) (fields map[string]string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock() // the documents' nested maps change in place under mu
	t := s.things[key{thingName, shadowName}]
	if t == nil || !t.exists {
		return nil, false
	}
	prefix := "shadow."
	if shadowName != "" {
		prefix = "shadow.name." + shadowName + "."
	}
	out := map[string]string{}
	flatten(out, prefix+"reported", t.reported)
	flatten(out, prefix+"desired", t.desired)
	return out, true
}

func flatten(out map[string]string, prefix string, v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			flatten(out, prefix+"."+k, e)
		}
	case nil:
	default:
		out[prefix] = fmt.Sprint(x)
	}
}
