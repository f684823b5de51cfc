package registry

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/fleetquery"
)

// Dynamic thing groups (CreateDynamicThingGroup and friends). A dynamic group is a
// thing group with a query: it has no parent and no children, things are not added
// to it, and its members are the things the query matches. The registry evaluates
// the query over its own things on every read (ListThingsInThingGroup,
// ListThingGroupsForThing), so membership follows a change at once; AWS updates it
// eventually from its fleet index, so code that must not depend on the timing reads
// it as eventually consistent. Dynamic memberships raise no membership events (AWS
// documents none); the group's own create, update and delete raise thing-group
// events like a static group's.

const (
	// queryVersion is the only query version AWS supports (and the default).
	queryVersion = "2017-09-30"
	// thingIndexName is the only index dynamic groups may use (and the default).
	thingIndexName = "AWS_Things"
)

// dynamicGroup is what makes a thing group dynamic.
type dynamicGroup struct {
	query, queryVersion, indexName string
	parsed                         *fleetquery.Query
}

// IndexSource supplies what the fleet index holds beyond the registry: shadows (with
// REGISTRY_AND_SHADOW) and connectivity (with connectivity STATUS). The simulator
// wires the Region's shadow service and broker; nil leaves those fields absent.
type IndexSource interface {
	// ShadowFields returns a shadow's indexed fields (shadow.reported.<path>, ...);
	// shadowName is "" for the classic shadow.
	ShadowFields(thing, shadowName string) (map[string]string, bool)
	// Connected reports whether a client is connected as the thing.
	Connected(thing string) bool
}

// SetIndexSource wires the shadows and connectivity the dynamic groups' queries read.
func (r *Registry) SetIndexSource(s IndexSource) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.index = s
}

// parseDynamic checks a dynamic group's query, version and index, and that the
// indexing configuration in force covers what the query needs.
func (r *Registry) parseDynamic(query, version, index *string) (*dynamicGroup, error) {
	d := &dynamicGroup{query: aws.ToString(query), queryVersion: queryVersion, indexName: thingIndexName}
	if d.query == "" {
		return nil, invalid("queryString is required")
	}
	if v := aws.ToString(version); v != "" && v != queryVersion {
		return nil, invalid("queryVersion %q is not supported; the only query version is %s", v, queryVersion)
	}
	if i := aws.ToString(index); i != "" && i != thingIndexName {
		return nil, invalid("indexName %q is not supported; dynamic thing groups use %s", i, thingIndexName)
	}
	parsed, err := fleetquery.Parse(d.query)
	if err != nil {
		return nil, &types.InvalidQueryException{Message: aws.String("queryString: " + err.Error())}
	}
	d.parsed = parsed
	have := r.thingIndexing()
	if miss := fleetquery.Missing(&have, fleetquery.Needs(d.query, nil)); len(miss) > 0 {
		return nil, invalid("Fleet indexing does not cover the query %q: it needs %s (UpdateIndexingConfiguration)", excerpt(d.query), strings.Join(miss, ", "))
	}
	return d, nil
}

// CreateDynamicThingGroup creates a dynamic thing group. The query must parse
// (InvalidQueryException) and fleet indexing must cover it: thing indexing on, and
// shadow, named-shadow, connectivity or Device Defender indexing for the fields it
// names (InvalidRequestException naming what is missing). A name already taken is a
// ResourceAlreadyExistsException, unless it is this very dynamic group (same query
// and properties), which succeeds without change. Publishes thingGroup/created.
func (r *Registry) CreateDynamicThingGroup(ctx context.Context, in *iot.CreateDynamicThingGroupInput, _ ...func(*iot.Options)) (*iot.CreateDynamicThingGroupOutput, error) {
	return call(ctx, r, "CreateDynamicThingGroup", in, func(in *iot.CreateDynamicThingGroupInput) (*iot.CreateDynamicThingGroupOutput, error) {
		if err := need("CreateDynamicThingGroupInput", member{"ThingGroupName", in.ThingGroupName != nil}, member{"QueryString", in.QueryString != nil}); err != nil {
			return nil, err
		}
		name := *in.ThingGroupName
		description, attrs, err := newGroupProperties(name, in.ThingGroupProperties, in.Tags)
		if err != nil {
			return nil, err
		}
		d, err := r.parseDynamic(in.QueryString, in.QueryVersion, in.IndexName)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		out := func(g *thingGroup) *iot.CreateDynamicThingGroupOutput {
			return &iot.CreateDynamicThingGroupOutput{ThingGroupArn: aws.String(g.arn), ThingGroupId: aws.String(g.id), ThingGroupName: aws.String(g.name),
				QueryString: aws.String(g.dynamic.query), QueryVersion: aws.String(g.dynamic.queryVersion), IndexName: aws.String(g.dynamic.indexName)}
		}
		if g := r.groups[name]; g != nil {
			if g.dynamic != nil && g.dynamic.query == d.query && equalStringPtr(g.description, description) && sameAttributes(g.attrs, attrs) {
				return out(g), nil
			}
			return nil, alreadyExists(g.id, g.arn, "Thing group %s already exists with different properties", name)
		}
		now := r.now()
		g := &thingGroup{
			name: name, id: newUUID(), arn: r.arn("thinggroup", name), children: map[string]struct{}{},
			description: description, attrs: attrs, version: 1, created: now, things: map[string]struct{}{}, dynamic: d,
		}
		r.groups[name] = g
		_ = r.setTags(g.arn, in.Tags) // checked by createTags
		r.groupKeys.invalidate()
		r.emitThingGroup(opCreated, g, now)
		return out(g), nil
	})
}

// UpdateDynamicThingGroup updates a dynamic group's properties (as UpdateThingGroup)
// and, when given, its query, version and index (checked as on create).
// ExpectedVersion, when set, must match (VersionConflictException). A static group
// is an InvalidRequestException. Increments the version and publishes
// thingGroup/updated.
func (r *Registry) UpdateDynamicThingGroup(ctx context.Context, in *iot.UpdateDynamicThingGroupInput, _ ...func(*iot.Options)) (*iot.UpdateDynamicThingGroupOutput, error) {
	return call(ctx, r, "UpdateDynamicThingGroup", in, func(in *iot.UpdateDynamicThingGroupInput) (*iot.UpdateDynamicThingGroupOutput, error) {
		if err := need("UpdateDynamicThingGroupInput", member{"ThingGroupName", in.ThingGroupName != nil}, member{"ThingGroupProperties", in.ThingGroupProperties != nil}); err != nil {
			return nil, err
		}
		props := in.ThingGroupProperties
		if props.AttributePayload != nil {
			if err := validateAttributes(props.AttributePayload.Attributes); err != nil {
				return nil, err
			}
		}
		var d *dynamicGroup
		if in.QueryString != nil || in.QueryVersion != nil || in.IndexName != nil {
			q := in.QueryString
			if q == nil {
				r.mu.RLock()
				if g := r.groups[*in.ThingGroupName]; g != nil && g.dynamic != nil {
					q = aws.String(g.dynamic.query)
				}
				r.mu.RUnlock()
			}
			var err error
			if d, err = r.parseDynamic(q, in.QueryVersion, in.IndexName); err != nil {
				return nil, err
			}
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		g := r.groups[*in.ThingGroupName]
		if g == nil {
			return nil, groupNotFound(*in.ThingGroupName)
		}
		if g.dynamic == nil {
			return nil, invalid("Thing group %s is a static thing group: use UpdateThingGroup", g.name)
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != g.version {
			return nil, versionConflict("thing group", g.name, *in.ExpectedVersion, g.version)
		}
		attrs := g.attrs
		if p := props.AttributePayload; p != nil {
			attrs = applyAttributes(g.attrs, p.Attributes, p.Merge)
			if err := checkAttributeLimits(attrs); err != nil {
				return nil, err
			}
		}
		g.attrs = attrs
		if props.ThingGroupDescription != nil {
			g.description = optString(*props.ThingGroupDescription)
		}
		if d != nil {
			g.dynamic = d
		}
		g.version++
		r.emitThingGroup(opUpdated, g, r.now())
		return &iot.UpdateDynamicThingGroupOutput{Version: g.version}, nil
	})
}

// DeleteDynamicThingGroup deletes a dynamic group; deleting a missing one succeeds,
// a static one is an InvalidRequestException. Publishes thingGroup/deleted.
func (r *Registry) DeleteDynamicThingGroup(ctx context.Context, in *iot.DeleteDynamicThingGroupInput, _ ...func(*iot.Options)) (*iot.DeleteDynamicThingGroupOutput, error) {
	return call(ctx, r, "DeleteDynamicThingGroup", in, func(in *iot.DeleteDynamicThingGroupInput) (*iot.DeleteDynamicThingGroupOutput, error) {
		if in.ThingGroupName == nil {
			return nil, required("DeleteDynamicThingGroupInput", "ThingGroupName")
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		g := r.groups[*in.ThingGroupName]
		if g == nil {
			return &iot.DeleteDynamicThingGroupOutput{}, nil
		}
		if g.dynamic == nil {
			return nil, invalid("Thing group %s is a static thing group: use DeleteThingGroup", g.name)
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != g.version {
			return nil, versionConflict("thing group", g.name, *in.ExpectedVersion, g.version)
		}
		r.emitThingGroup(opDeleted, g, r.now())
		delete(r.groups, g.name)
		delete(r.tags, g.arn)
		r.groupKeys.invalidate()
		return &iot.DeleteDynamicThingGroupOutput{}, nil
	})
}

// sortedDynamicGroups returns the dynamic groups' names, sorted; mu must be held.
func (r *Registry) sortedDynamicGroups() []string {
	var out []string
	for n, g := range r.groups {
		if g.dynamic != nil {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// dynamicMembers returns the things g's query matches, sorted; mu must be held.
func (r *Registry) dynamicMembers(g *thingGroup) []string {
	var out []string
	cfg := r.thingIndexing()
	for _, name := range r.thingKeys.get(keysOf(r.things)) {
		if g.dynamic.parsed.Match(r.indexRecord(r.things[name], cfg)) {
			out = append(out, name)
		}
	}
	return out
}

// dynamicGroupsOf returns the dynamic groups whose query matches t; mu must be held.
func (r *Registry) dynamicGroupsOf(t *thing) []string {
	var out []string
	var rec *thingRecord
	for _, n := range r.sortedDynamicGroups() {
		if rec == nil {
			rec = r.indexRecord(t, r.thingIndexing())
		}
		if r.groups[n].dynamic.parsed.Match(rec) {
			out = append(out, n)
		}
	}
	return out
}

// thingRecord is one thing as the fleet index sees it (fleetquery.Record): registry
// fields, and shadow and connectivity fields when indexing includes them.
type thingRecord struct {
	r      *Registry
	t      *thing
	cfg    types.ThingIndexingConfiguration
	shadow map[string]map[string]string // by shadow name, loaded on first use
}

func (r *Registry) indexRecord(t *thing, cfg types.ThingIndexingConfiguration) *thingRecord {
	return &thingRecord{r: r, t: t, cfg: cfg, shadow: map[string]map[string]string{}}
}

// Values answers the fields the simulator indexes: thingName, thingId,
// thingTypeName, thingGroupNames (static groups), attributes.<name>,
// shadow.reported/desired.<path> and shadow.name.<name>.reported/desired.<path>
// (with shadow indexing; named shadows only those in the filter), and
// connectivity.connected (with connectivity STATUS).
func (rec *thingRecord) Values(f string) ([]string, bool) {
	t := rec.t
	switch {
	case f == "thingName":
		return []string{t.name}, true
	case f == "thingId":
		return []string{t.id}, true
	case f == "thingTypeName":
		return []string{t.typeName}, t.typeName != ""
	case f == "thingGroupNames":
		gs := slices.Sorted(maps.Keys(t.groups))
		return gs, len(gs) > 0
	case strings.HasPrefix(f, "attributes."):
		v, ok := t.attrs[strings.TrimPrefix(f, "attributes.")]
		return []string{v}, ok
	case f == "connectivity.connected":
		if rec.cfg.ThingConnectivityIndexingMode != types.ThingConnectivityIndexingModeStatus || rec.r.index == nil {
			return nil, false
		}
		return []string{strconv.FormatBool(rec.r.index.Connected(t.name))}, true
	case strings.HasPrefix(f, "shadow."):
		if rec.cfg.ThingIndexingMode != types.ThingIndexingModeRegistryAndShadow || rec.r.index == nil {
			return nil, false
		}
		shadowName := ""
		if rest, ok := strings.CutPrefix(f, "shadow.name."); ok {
			shadowName, _, _ = strings.Cut(rest, ".")
			if rec.cfg.Filter == nil || !slices.Contains(rec.cfg.Filter.NamedShadowNames, shadowName) {
				return nil, false
			}
		}
		fields, ok := rec.shadow[shadowName]
		if !ok {
			fields, _ = rec.r.index.ShadowFields(t.name, shadowName)
			rec.shadow[shadowName] = fields
		}
		v, ok := fields[f]
		return []string{v}, ok
	}
	return nil, false
}

// Any returns the registry values a bare term matches: the name, the type and the
// attribute values.
func (rec *thingRecord) Any() []string {
	out := []string{rec.t.name}
	if rec.t.typeName != "" {
		out = append(out, rec.t.typeName)
	}
	for _, v := range rec.t.attrs {
		out = append(out, v)
	}
	return out
}
