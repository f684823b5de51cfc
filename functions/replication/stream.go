package replication

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"golang.org/x/sync/errgroup"
)

// NameLister streams resource names: it calls yield once per name, in the order the
// API lists them, page by page (no whole list is held), and stops, returning yield's
// error as is, as soon as yield fails.
type NameLister func(ctx context.Context, yield func(name string) error) error

// ThingNames lists the name of every thing in c; optFns tune the paginator (page
// size). A failed page is reported as "list things: ...".
func ThingNames(c iot.ListThingsAPIClient, optFns ...func(*iot.ListThingsPaginatorOptions)) NameLister {
	return func(ctx context.Context, yield func(string) error) error {
		p := iot.NewListThingsPaginator(c, &iot.ListThingsInput{}, optFns...)
		return eachName(ctx, p, "things", func(o *iot.ListThingsOutput) []string {
			return namesOf(o.Things, func(t types.ThingAttribute) *string { return t.ThingName })
		}, yield)
	}
}

// ThingTypeNames lists the name of every thing type in c. A failed page is reported
// as "list thing types: ...".
func ThingTypeNames(c iot.ListThingTypesAPIClient) NameLister {
	return func(ctx context.Context, yield func(string) error) error {
		p := iot.NewListThingTypesPaginator(c, &iot.ListThingTypesInput{})
		return eachName(ctx, p, "thing types", func(o *iot.ListThingTypesOutput) []string {
			return namesOf(o.ThingTypes, func(t types.ThingTypeDefinition) *string { return t.ThingTypeName })
		}, yield)
	}
}

// ThingGroupNames lists the name of every thing group in c (static and dynamic, the
// whole tree). A failed page is reported as "list thing groups: ...".
func ThingGroupNames(c iot.ListThingGroupsAPIClient) NameLister {
	return func(ctx context.Context, yield func(string) error) error {
		p := iot.NewListThingGroupsPaginator(c, &iot.ListThingGroupsInput{})
		return eachName(ctx, p, "thing groups", func(o *iot.ListThingGroupsOutput) []string {
			return namesOf(o.ThingGroups, groupName)
		}, yield)
	}
}

// collectNames reads a list whole.
func collectNames(ctx context.Context, list NameLister) ([]string, error) {
	var out []string
	err := list(ctx, func(n string) error {
		out = append(out, n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// namesOf returns the names of items, skipping those without one.
func namesOf[T any](items []T, name func(T) *string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		if n := name(it); n != nil {
			out = append(out, *n)
		}
	}
	return out
}

// ForEachName runs work on every name list yields, on at most concurrency goroutines;
// list blocks in yield while all are busy, so memory is bounded by concurrency and the
// page size, not by the list. The first error of work cancels the context passed to
// list and to the other workers, and is returned (the list's error is then only the
// cancellation it caused); otherwise list's error, or ctx's.
func ForEachName(ctx context.Context, concurrency int, list NameLister, work func(ctx context.Context, name string) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	listErr := list(gctx, func(name string) error {
		if err := gctx.Err(); err != nil {
			return err
		}
		g.Go(func() error { return work(gctx, name) })
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	if listErr != nil {
		return listErr
	}
	return ctx.Err()
}
