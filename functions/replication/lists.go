package replication

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// The per-resource lists below are small (principals of a thing, policies of a
// certificate, groups of a thing) and read whole; the fleet-wide lists that
// Reconcile walks are streamed page by page instead.

func listThingPrincipals(ctx context.Context, c IoT, thing string) ([]string, error) {
	var out []string
	p := iot.NewListThingPrincipalsPaginator(c, &iot.ListThingPrincipalsInput{ThingName: aws.String(thing)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Principals...)
	}
	return out, nil
}

// listPrincipalThings returns up to limit things the principal is attached to (all
// when limit <= 0).
func listPrincipalThings(ctx context.Context, c IoT, principal string, limit int) ([]string, error) {
	var out []string
	p := iot.NewListPrincipalThingsPaginator(c, &iot.ListPrincipalThingsInput{Principal: aws.String(principal)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Things...)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

func listAttachedPolicies(ctx context.Context, c IoT, target string) ([]string, error) {
	var out []string
	p := iot.NewListAttachedPoliciesPaginator(c, &iot.ListAttachedPoliciesInput{Target: aws.String(target)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, pol := range page.Policies {
			out = append(out, aws.ToString(pol.PolicyName))
		}
	}
	return out, nil
}

// policyHasTargets reports whether anything is attached to the policy.
func policyHasTargets(ctx context.Context, c IoT, policy string) (bool, error) {
	p := iot.NewListTargetsForPolicyPaginator(c, &iot.ListTargetsForPolicyInput{PolicyName: aws.String(policy)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return false, err
		}
		if len(page.Targets) > 0 {
			return true, nil
		}
	}
	return false, nil
}

func listThingGroupsForThing(ctx context.Context, c IoT, thing string) ([]string, error) {
	var out []string
	p := iot.NewListThingGroupsForThingPaginator(c, &iot.ListThingGroupsForThingInput{ThingName: aws.String(thing)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, g := range page.ThingGroups {
			out = append(out, aws.ToString(g.GroupName))
		}
	}
	return out, nil
}

func listChildGroups(ctx context.Context, c IoT, parent string) ([]string, error) {
	var out []string
	p := iot.NewListThingGroupsPaginator(c, &iot.ListThingGroupsInput{ParentGroup: aws.String(parent), Recursive: aws.Bool(false)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, g := range page.ThingGroups {
			out = append(out, aws.ToString(g.GroupName))
		}
	}
	return out, nil
}

func listThingsInGroup(ctx context.Context, c IoT, group string) ([]string, error) {
	var out []string
	p := iot.NewListThingsInThingGroupPaginator(c, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String(group)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Things...)
	}
	return out, nil
}

// typeInUse reports whether any thing in c has the thing type.
func typeInUse(ctx context.Context, c IoT, typeName string) (bool, error) {
	p := iot.NewListThingsPaginator(c, &iot.ListThingsInput{ThingTypeName: aws.String(typeName)},
		func(o *iot.ListThingsPaginatorOptions) { o.Limit = 1 })
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return false, err
		}
		if len(page.Things) > 0 {
			return true, nil
		}
	}
	return false, nil
}

func set(items []string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, s := range items {
		m[s] = true
	}
	return m
}
