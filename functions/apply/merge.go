package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/state"
)

// sectionMerge is what mergeShadow decided for one raced shadow write.
type sectionMerge struct {
	// Kept are the sections this Region changed and the other did not: written back
	// over the other Region's item.
	Kept []string
	// Clashed are the sections both Regions changed: the later write (the other
	// Region's, which the global table kept) wins them, and each is a conflict.
	Clashed []string
}

// mergeShadow resolves a shadow write of another Region (in) that replaced this
// Region's own item (old) without having seen it: both Regions changed the shadow
// since their common item (in's basis). The rule is per section: a section only one
// Region changed keeps that change; a section both changed goes to the later write.
// Each section's stamp (state.Shadow DesiredBy/ReportedBy) says who changed it last:
// a stamp of this Region later than the basis is a change made here that in lacks.
// When this Region keeps a section, the merged item is written to the table (it
// replicates to the other Region, whose apply takes it like any other) and applied
// here. Tombstones are not merged: a delete against a change is decided whole.
func (a *Applier) mergeShadow(ctx context.Context, old, in state.Item) (sectionMerge, error) {
	var m sectionMerge
	var ob, ib state.Shadow
	if old.Deleted || in.Deleted || old.Decode(&ob) != nil || in.Decode(&ib) != nil {
		return m, nil // decided whole, as items from before section stamps are
	}
	base := refSeq(in.Basis)
	mine, theirs := sections(&ob), sections(&ib)
	for i, o := range mine {
		n := theirs[i]
		if *o.by == *n.by || refOrigin(*o.by) != a.Region || refSeq(*o.by) <= base {
			continue // not changed here since the common item
		}
		if refOrigin(*n.by) == in.Origin && refSeq(*n.by) > base {
			m.Clashed = append(m.Clashed, o.name)
			continue
		}
		m.Kept = append(m.Kept, o.name)
	}
	if len(m.Kept) == 0 {
		return m, nil
	}
	cur := in
	for range maxPasses {
		var cb state.Shadow
		if cur.Deleted || cur.Decode(&cb) != nil {
			return m, nil // deleted meanwhile: the later delete wins
		}
		into := sections(&cb)
		var kept []string
		for i, o := range mine {
			if slices.Contains(m.Kept, o.name) && *into[i].by == *theirs[i].by {
				*into[i].data, *into[i].by = *o.data, *o.by
				kept = append(kept, o.name)
			}
		}
		m.Kept = kept // a section the other Region changed again since is its later write
		if len(kept) == 0 {
			return m, nil
		}
		merged, err := state.NewItem(in.Kind, in.Name, cb)
		if err != nil {
			return m, err
		}
		merged.Origin = a.Region
		merged.Seq = max(a.now().UnixMicro(), cur.Seq+1)
		merged.CapturedAt = a.now().UnixMilli()
		merged.ChangedAt = max(old.ChangedAt, cur.ChangedAt)
		merged.Versions = maps.Clone(cur.Versions)
		if merged.Versions == nil {
			merged.Versions = map[string]int64{}
		}
		for r, v := range old.Versions {
			merged.Versions[r] = max(merged.Versions[r], v)
		}
		o, err := a.Store.Swap(ctx, cur, true, merged)
		if err != nil {
			return m, err
		}
		if o == state.Written {
			_, err := a.converge(state.WithSnapshot(ctx, merged), in.Kind, in.Name)
			return m, err
		}
		next, ok, err := a.Store.Get(ctx, in.Kind, in.Name)
		if err != nil || !ok {
			return m, err
		}
		if next.Origin == a.Region {
			// This Region wrote it since: an earlier try of this record's merge whose
			// apply failed, another record's merge, or a capture. Converge to it, as
			// the merge's own write would have been.
			_, err := a.converge(state.WithSnapshot(ctx, next), in.Kind, in.Name)
			return m, err
		}
		cur = next
	}
	return m, fmt.Errorf("apply: shadow %s kept moving while its raced sections %v were merged", in.Name, m.Kept)
}

// shadowKind reports whether items of kind are shadows (classic or named), which
// are merged per section.
// foreignSections are the sections of a shadow item whose stamp names another Region
// than region (none for other kinds, tombstones and items without stamps).
func foreignSections(it state.Item, region string) []string {
	var b state.Shadow
	if !shadowKind(it.Kind) || it.Deleted || it.Decode(&b) != nil {
		return nil
	}
	var out []string
	for _, s := range sections(&b) {
		if *s.by != "" && refOrigin(*s.by) != region {
			out = append(out, s.name)
		}
	}
	return out
}

func shadowKind(kind string) bool { return kind == spec.KindShadow || kind == spec.KindNamedShadow }

// section is one shadow section and its stamp, in place.
type section struct {
	name string
	data *json.RawMessage
	by   *string
}

func sections(b *state.Shadow) []section {
	return []section{{replication.SectionDesired, &b.Desired, &b.DesiredBy}, {replication.SectionReported, &b.Reported, &b.ReportedBy}}
}

// refOrigin and refSeq split an Item.Ref ("<origin>/<seq>"); refSeq is 0 for none.
func refOrigin(ref string) string {
	o, _, _ := strings.Cut(ref, "/")
	return o
}

func refSeq(ref string) int64 {
	_, s, ok := strings.Cut(ref, "/")
	if !ok {
		return 0
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
