package replication

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
)

// ShadowSections returns the parts of a classic shadow's state that are replicated,
// and compared: desired and reported. The delta is derived by AWS, and metadata,
// version and timestamps are per Region. The slice is the caller's.
func ShadowSections() []string { return []string{SectionDesired, SectionReported} }

// The sections of a shadow's state, as ShadowSections, the apply's merge and the
// conflict records name them.
const (
	SectionDesired  = "desired"
	SectionReported = "reported"
)

// Shadow converges the classic shadow of one thing: the target's desired and reported
// state are made equal to the source's with one update (keys the source lacks are set
// to null, nested objects compared recursively); nothing is written when they are
// already equal. A shadow absent from the source is deleted from the target.
func (r *Replicator) Shadow(ctx context.Context, thing string) (Outcome, error) {
	rec := &recorder{}
	err := r.shadow(ctx, thing, "", rec)
	return r.finish(ctx, "shadow of thing", thing, rec, 0, err)
}

// NamedShadow converges one named shadow of a thing as Shadow does the classic one.
func (r *Replicator) NamedShadow(ctx context.Context, thing, shadow string) (Outcome, error) {
	rec := &recorder{}
	err := r.shadow(ctx, thing, shadow, rec)
	return r.finish(ctx, "named shadow", thing+"/"+shadow, rec, 0, err)
}

// AllShadows converges every shadow of a thing: the classic one, and each named
// shadow either Region has (listed with ListNamedShadowsForThing on both; one the
// source lacks is deleted from the target). It is the bulk passes' path (sync).
func (r *Replicator) AllShadows(ctx context.Context, thing string) (Outcome, error) {
	rec := &recorder{}
	err := r.shadow(ctx, thing, "", rec)
	if err == nil {
		err = r.namedShadows(ctx, thing, rec)
	}
	return r.finish(ctx, "shadows of thing", thing, rec, 0, err)
}

func (r *Replicator) namedShadows(ctx context.Context, thing string, rec *recorder) error {
	// The two lists are read at once: each Region's ListNamedShadowsForThing quota
	// (10 TPS) is its own, and a bulk pass's throughput is its workers over the
	// latency of a thing.
	var (
		tgt  []string
		terr error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		tgt, terr = NamedShadowNames(ctx, r.TargetShadows, thing)
	}()
	src, err := NamedShadowNames(ctx, r.SourceShadows, thing)
	<-done
	if err != nil {
		return fmt.Errorf("list named shadows in %s: %w", r.SourceRegion, err)
	}
	if terr != nil {
		return fmt.Errorf("list named shadows in %s: %w", r.TargetRegion, terr)
	}
	for _, name := range union(src, tgt) {
		if err := r.shadow(ctx, thing, name, rec); err != nil {
			return fmt.Errorf("named shadow %s: %w", name, err)
		}
	}
	return nil
}

// NamedShadowLister lists a thing's named shadows (*iotdataplane.Client).
type NamedShadowLister interface {
	ListNamedShadowsForThing(ctx context.Context, in *iotdataplane.ListNamedShadowsForThingInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.ListNamedShadowsForThingOutput, error)
}

// NamedShadowNames pages through ListNamedShadowsForThing; a thing without named
// shadows (or without a shadow at all) has none.
func NamedShadowNames(ctx context.Context, c NamedShadowLister, thing string) ([]string, error) {
	var names []string
	var tok *string
	for {
		out, err := c.ListNamedShadowsForThing(ctx, &iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String(thing), NextToken: tok})
		if IsNotFound(err) {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		names = append(names, out.Results...)
		if aws.ToString(out.NextToken) == "" {
			return names, nil
		}
		tok = out.NextToken
	}
}

// union returns the names in a or b, each once, in sorted order.
func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

func (r *Replicator) shadow(ctx context.Context, thing, shadow string, rec *recorder) error {
	if err := validName("thing", thing); err != nil {
		return err
	}
	what := "shadow of " + thing
	var name *string
	if shadow != "" {
		if err := validName("shadow", shadow); err != nil || len(shadow) > 64 {
			return invalidf("shadow name %q: 1 to 64 of [a-zA-Z0-9:_-]", excerpt(shadow))
		}
		name, what = aws.String(shadow), "named shadow "+thing+"/"+shadow
	}
	if r.SourceShadows == nil || r.TargetShadows == nil {
		return invalidf("shadow replication is not configured (no data-plane clients)")
	}
	src, err := r.SourceShadows.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing), ShadowName: name})
	if IsNotFound(err) {
		_, err := r.TargetShadows.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String(thing), ShadowName: name})
		switch {
		case IsNotFound(err):
			return nil
		case err != nil:
			return fmt.Errorf("delete in %s: %w", r.TargetRegion, err)
		}
		rec.add("deleted %s", what)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get in %s: %w", r.SourceRegion, err)
	}
	srcState, err := shadowState(src.Payload)
	if err != nil {
		return fmt.Errorf("source document: %w", err)
	}
	var tgtState map[string]any
	tgt, err := r.TargetShadows.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing), ShadowName: name})
	switch {
	case IsNotFound(err):
	case err != nil:
		return fmt.Errorf("get in %s: %w", r.TargetRegion, err)
	default:
		if tgtState, err = shadowState(tgt.Payload); err != nil {
			return fmt.Errorf("target document: %w", err)
		}
	}
	patch := statePatch(srcState, tgtState, shadowSectionsOf(ctx))
	if patch == nil {
		return nil
	}
	doc := map[string]any{"state": patch}
	if r.ClientToken != "" {
		doc["clientToken"] = r.ClientToken
	}
	payload, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode update: %w", err)
	}
	if _, err := r.TargetShadows.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(thing), ShadowName: name, Payload: payload}); err != nil {
		return fmt.Errorf("update in %s: %w", r.TargetRegion, err)
	}
	rec.add("updated %s", what)
	return nil
}

// ShadowState decodes the "state" object of a classic shadow document (desired,
// reported, delta), keeping numbers as written (json.Number) so that comparing two
// states is exact.
func ShadowState(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var doc struct {
		State map[string]any `json:"state"`
	}
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("shadow document is not JSON (%d bytes): %w", len(payload), err)
	}
	return doc.State, nil
}

// shadowState is ShadowState with a document that is not JSON reported as bad input,
// which retrying cannot fix.
func shadowState(payload []byte) (map[string]any, error) {
	st, err := ShadowState(payload)
	if err != nil {
		return nil, invalidInput{msg: err.Error()}
	}
	return st, nil
}

// sectionsKey carries the shadow sections a converge may change (WithShadowSections).
type sectionsKey struct{}

// WithShadowSections limits the shadow converges under ctx to the named sections
// ("desired", "reported"): the apply of a write that changed only desired must not
// set this Region's reported back to the writer's older copy while a device's newer
// report here is still on its way to the table.
func WithShadowSections(ctx context.Context, sections []string) context.Context {
	return context.WithValue(ctx, sectionsKey{}, sections)
}

func shadowSectionsOf(ctx context.Context) []string {
	if s, ok := ctx.Value(sectionsKey{}).([]string); ok {
		return s
	}
	return ShadowSections()
}

// statePatch returns the state update that turns tgt into src for the given
// sections, or nil when they are equal.
func statePatch(src, tgt map[string]any, sections []string) map[string]any {
	patch := map[string]any{}
	for _, sec := range sections {
		s, t := src[sec], tgt[sec]
		switch {
		case s == nil && t == nil:
		case s == nil:
			patch[sec] = nil // the source has no such section: clear it
		default:
			sm, sok := s.(map[string]any)
			tm, tok := t.(map[string]any)
			if sok && tok {
				if p := objectPatch(sm, tm); len(p) > 0 {
					patch[sec] = p
				}
			} else if !reflect.DeepEqual(s, t) {
				patch[sec] = s
			}
		}
	}
	if len(patch) == 0 {
		return nil
	}
	return patch
}

// objectPatch returns the merge patch (AWS shadow semantics: null deletes a key,
// objects merge recursively, anything else replaces) that turns tgt into src.
func objectPatch(src, tgt map[string]any) map[string]any {
	out := map[string]any{}
	for k, sv := range src {
		tv, ok := tgt[k]
		if !ok {
			out[k] = sv
			continue
		}
		sm, sok := sv.(map[string]any)
		tm, tok := tv.(map[string]any)
		if sok && tok {
			if p := objectPatch(sm, tm); len(p) > 0 {
				out[k] = p
			}
			continue
		}
		if !reflect.DeepEqual(sv, tv) {
			out[k] = sv
		}
	}
	for k := range tgt {
		if _, ok := src[k]; !ok {
			out[k] = nil
		}
	}
	return out
}
