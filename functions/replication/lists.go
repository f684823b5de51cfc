package replication

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// The per-resource lists below are small (principals of a thing, policies of a
// certificate, groups of a thing) and read whole; the fleet-wide lists (NameLister)
// are streamed page by page instead. The exported ones take the SDK's one-method
// paginator client interfaces, so that read-only callers (verify) can use them too.

// pager is what the SDK's paginators have in common.
type pager[O any] interface {
	HasMorePages() bool
	NextPage(ctx context.Context, optFns ...func(*iot.Options)) (O, error)
}

// eachName pages through p and calls yield with the names of every page, stopping
// when yield fails (returning its error as is). A page error is returned as is, or
// as "list <what>: ..." when what is set.
func eachName[O any](ctx context.Context, p pager[O], what string, names func(O) []string, yield func(string) error) error {
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if what != "" {
				return fmt.Errorf("list %s: %w", what, err)
			}
			return err
		}
		for _, n := range names(page) {
			if err := yield(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// collect reads every page of p whole.
func collect[O any](ctx context.Context, p pager[O], names func(O) []string) ([]string, error) {
	return collectNames(ctx, func(ctx context.Context, yield func(string) error) error {
		return eachName(ctx, p, "", names, yield)
	})
}

// ListThingPrincipals returns every principal (certificate ARN, ...) attached to the
// thing, in the order AWS lists them.
func ListThingPrincipals(ctx context.Context, c iot.ListThingPrincipalsAPIClient, thing string) ([]string, error) {
	p := iot.NewListThingPrincipalsPaginator(c, &iot.ListThingPrincipalsInput{ThingName: aws.String(thing)})
	return collect(ctx, p, func(o *iot.ListThingPrincipalsOutput) []string { return o.Principals })
}

// ThingCertificates returns the certificates attached to the thing: certificate id
// (the same in every Region) -> certificate ARN. Other principals are left out.
func ThingCertificates(ctx context.Context, c iot.ListThingPrincipalsAPIClient, thing string) (map[string]string, error) {
	principals, err := ListThingPrincipals(ctx, c, thing)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(principals))
	for _, p := range principals {
		if id := CertificateID(p); id != "" {
			out[id] = p
		}
	}
	return out, nil
}

// ListPrincipalThings returns the things the principal is attached to.
func ListPrincipalThings(ctx context.Context, c iot.ListPrincipalThingsAPIClient, principal string) ([]string, error) {
	p := iot.NewListPrincipalThingsPaginator(c, &iot.ListPrincipalThingsInput{Principal: aws.String(principal)})
	return collect(ctx, p, func(o *iot.ListPrincipalThingsOutput) []string { return o.Things })
}

// attachedToOtherThing reports whether the principal is attached to a thing other
// than thing (to any thing when thing is ""), reading no further pages once one is.
func attachedToOtherThing(ctx context.Context, c iot.ListPrincipalThingsAPIClient, principal, thing string) (bool, error) {
	p := iot.NewListPrincipalThingsPaginator(c, &iot.ListPrincipalThingsInput{Principal: aws.String(principal)})
	return anyPage(ctx, p, func(o *iot.ListPrincipalThingsOutput) bool {
		return slices.ContainsFunc(o.Things, func(t string) bool { return t != thing })
	})
}

// ListAttachedPolicies returns the names of the policies attached to target (for
// instance a certificate ARN), in the order AWS lists them.
func ListAttachedPolicies(ctx context.Context, c iot.ListAttachedPoliciesAPIClient, target string) ([]string, error) {
	p := iot.NewListAttachedPoliciesPaginator(c, &iot.ListAttachedPoliciesInput{Target: aws.String(target)})
	return collect(ctx, p, func(o *iot.ListAttachedPoliciesOutput) []string {
		out := make([]string, len(o.Policies))
		for i, pol := range o.Policies {
			out[i] = aws.ToString(pol.PolicyName)
		}
		return out
	})
}

// ListThingGroupsForThing returns the names of the thing groups the thing is a member
// of, in the order AWS lists them.
func ListThingGroupsForThing(ctx context.Context, c iot.ListThingGroupsForThingAPIClient, thing string) ([]string, error) {
	p := iot.NewListThingGroupsForThingPaginator(c, &iot.ListThingGroupsForThingInput{ThingName: aws.String(thing)})
	return collect(ctx, p, func(o *iot.ListThingGroupsForThingOutput) []string { return namesOf(o.ThingGroups, groupName) })
}

// policyHasTargets reports whether anything is attached to the policy.
func policyHasTargets(ctx context.Context, c IoT, policy string) (bool, error) {
	p := iot.NewListTargetsForPolicyPaginator(c, &iot.ListTargetsForPolicyInput{PolicyName: aws.String(policy)})
	return anyPage(ctx, p, func(o *iot.ListTargetsForPolicyOutput) bool { return len(o.Targets) > 0 })
}

func listChildGroups(ctx context.Context, c IoT, parent string) ([]string, error) {
	p := iot.NewListThingGroupsPaginator(c, &iot.ListThingGroupsInput{ParentGroup: aws.String(parent), Recursive: aws.Bool(false)})
	return collect(ctx, p, func(o *iot.ListThingGroupsOutput) []string { return namesOf(o.ThingGroups, groupName) })
}

func listThingsInGroup(ctx context.Context, c iot.ListThingsInThingGroupAPIClient, group string) ([]string, error) {
	p := iot.NewListThingsInThingGroupPaginator(c, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String(group)})
	return collect(ctx, p, func(o *iot.ListThingsInThingGroupOutput) []string { return o.Things })
}

// typeInUse reports whether any thing in c has the thing type.
func typeInUse(ctx context.Context, c IoT, typeName string) (bool, error) {
	p := iot.NewListThingsPaginator(c, &iot.ListThingsInput{ThingTypeName: aws.String(typeName)},
		func(o *iot.ListThingsPaginatorOptions) { o.Limit = 1 })
	return anyPage(ctx, p, func(o *iot.ListThingsOutput) bool { return len(o.Things) > 0 })
}

// anyPage reports whether some page of p satisfies found, reading no further pages
// once one does.
func anyPage[O any](ctx context.Context, p pager[O], found func(O) bool) (bool, error) {
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return false, err
		}
		if found(page) {
			return true, nil
		}
	}
	return false, nil
}

// groupName is the name of a group as ListThingGroups and ListThingGroupsForThing
// list it (see namesOf).
func groupName(g types.GroupNameAndArn) *string { return g.GroupName }

func set(items []string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, s := range items {
		m[s] = true
	}
	return m
}
