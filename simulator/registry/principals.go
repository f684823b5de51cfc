package registry

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// AttachThingPrincipal attaches a certificate (by ARN) to a thing.
// Re-attaching is a no-op. With ThingPrincipalType EXCLUSIVE_THING the
// certificate may be attached to no other thing (InvalidRequestException).
// Publishes no event, as in AWS.
func (r *Registry) AttachThingPrincipal(ctx context.Context, in *iot.AttachThingPrincipalInput, _ ...func(*iot.Options)) (*iot.AttachThingPrincipalOutput, error) {
	return call(ctx, r, "AttachThingPrincipal", in, func(in *iot.AttachThingPrincipalInput) (*iot.AttachThingPrincipalOutput, error) {
		if err := need("AttachThingPrincipalInput", member{"Principal", in.Principal != nil}, member{"ThingName", in.ThingName != nil}); err != nil {
			return nil, err
		}
		switch in.ThingPrincipalType {
		case "", types.ThingPrincipalTypeExclusiveThing, types.ThingPrincipalTypeNonExclusiveThing:
		default:
			return nil, invalid("ThingPrincipalType %s is not valid", in.ThingPrincipalType)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		t := r.things[*in.ThingName]
		if t == nil {
			return nil, r.thingNotFound(*in.ThingName)
		}
		c, err := r.certByARN(*in.Principal)
		if err != nil {
			return nil, err
		}
		if c.exclusiveThing != "" && c.exclusiveThing != t.name {
			return nil, invalid("The principal %s is exclusively attached to thing %s", c.arn, c.exclusiveThing)
		}
		if in.ThingPrincipalType == types.ThingPrincipalTypeExclusiveThing {
			for other := range c.things {
				if other != t.name {
					return nil, invalid("The principal %s is already attached to thing %s and cannot be attached exclusively", c.arn, other)
				}
			}
			c.exclusiveThing = t.name
		}
		t.principals[c.arn] = struct{}{}
		c.things[t.name] = struct{}{}
		return &iot.AttachThingPrincipalOutput{}, nil
	})
}

// DetachThingPrincipal detaches a certificate from a thing; detaching one
// that is not attached succeeds. Publishes no event.
func (r *Registry) DetachThingPrincipal(ctx context.Context, in *iot.DetachThingPrincipalInput, _ ...func(*iot.Options)) (*iot.DetachThingPrincipalOutput, error) {
	return call(ctx, r, "DetachThingPrincipal", in, func(in *iot.DetachThingPrincipalInput) (*iot.DetachThingPrincipalOutput, error) {
		if err := need("DetachThingPrincipalInput", member{"Principal", in.Principal != nil}, member{"ThingName", in.ThingName != nil}); err != nil {
			return nil, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		t := r.things[*in.ThingName]
		if t == nil {
			return nil, r.thingNotFound(*in.ThingName)
		}
		delete(t.principals, *in.Principal)
		if c, err := r.certByARN(*in.Principal); err == nil {
			delete(c.things, t.name)
			if c.exclusiveThing == t.name {
				c.exclusiveThing = ""
			}
		}
		return &iot.DetachThingPrincipalOutput{}, nil
	})
}

// ListThingPrincipals lists the certificate ARNs attached to a thing, sorted.
func (r *Registry) ListThingPrincipals(ctx context.Context, in *iot.ListThingPrincipalsInput, _ ...func(*iot.Options)) (*iot.ListThingPrincipalsOutput, error) {
	return call(ctx, r, "ListThingPrincipals", in, func(in *iot.ListThingPrincipalsInput) (*iot.ListThingPrincipalsOutput, error) {
		page, next, err := r.listPage("ListThingPrincipals", "ThingName", in.ThingName, in.NextToken, in.MaxResults,
			r.thingNames(func(t *thing) []string { return sortedSet(t.principals) }))
		if err != nil {
			return nil, err
		}
		return &iot.ListThingPrincipalsOutput{Principals: nonNil(page), NextToken: next}, nil
	})
}

// ListPrincipalThings lists the names of the things a certificate is
// attached to, sorted.
func (r *Registry) ListPrincipalThings(ctx context.Context, in *iot.ListPrincipalThingsInput, _ ...func(*iot.Options)) (*iot.ListPrincipalThingsOutput, error) {
	return call(ctx, r, "ListPrincipalThings", in, func(in *iot.ListPrincipalThingsInput) (*iot.ListPrincipalThingsOutput, error) {
		page, next, err := r.listPage("ListPrincipalThings", "Principal", in.Principal, in.NextToken, in.MaxResults,
			r.certNames(func(c *certificate) []string { return sortedSet(c.things) }))
		if err != nil {
			return nil, err
		}
		return &iot.ListPrincipalThingsOutput{Things: nonNil(page), NextToken: next}, nil
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
