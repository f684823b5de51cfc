package registry

import (
	"context"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// Tags (TagResource, UntagResource, ListTagsForResource, and the Tags of the
// Create calls) are kept on thing types, thing groups (static and dynamic),
// billing groups, policies, role aliases, provisioning templates and CA
// certificates, keyed by the resource's ARN and dropped with the
// resource. AWS's limits: at most 50 tags per resource, keys of 1 to 128
// characters of [\p{L}\p{Z}\p{N}_.:/=+\-@], values of at most 256; the aws:
// prefix (any case) is reserved for AWS, so no caller can set or remove such a key
// (InvalidRequestException), and as the fake has no AWS service of its own, none
// ever carries one. Tag changes raise no registry events, as in AWS.
const maxTagsPerResource = 50

var tagKeyRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

func reservedTagKey(k string) bool { return strings.HasPrefix(strings.ToLower(k), "aws:") }

// validateTags checks tags against AWS's tag rules (not the count).
func validateTags(tags []types.Tag) error {
	for _, t := range tags {
		k := aws.ToString(t.Key)
		switch {
		case t.Key == nil || k == "" || utf8.RuneCountInString(k) > 128:
			return invalid("Tag key %q must be 1 to 128 characters", excerpt(k))
		case !tagKeyRE.MatchString(k):
			return invalid("Tag key %q contains characters outside [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]", excerpt(k))
		case reservedTagKey(k):
			return invalid("Tag key %q: the aws: prefix is reserved for AWS use", excerpt(k))
		case utf8.RuneCountInString(aws.ToString(t.Value)) > 256:
			return invalid("Tag value of %q is over 256 characters", excerpt(k))
		}
	}
	return nil
}

// taggable reports whether arn names an existing taggable resource of this
// Region; r.mu is held.
func (r *Registry) taggable(arn string) error {
	prefix := "arn:" + r.partition + ":iot:" + r.region + ":" + r.account + ":"
	rest, ok := strings.CutPrefix(arn, prefix)
	kind, name, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || name == "" {
		return invalid("%q is not the ARN of a taggable AWS IoT resource in %s", excerpt(arn), r.region)
	}
	var exists bool
	switch kind {
	case "thingtype":
		exists = r.thingTypes[name] != nil
	case "thinggroup":
		exists = r.groups[name] != nil
	case "billinggroup":
		exists = r.billingGroups[name] != nil
	case "policy":
		exists = r.policies[name] != nil
	case "rolealias":
		exists = r.prov.roleAliases[name] != nil
	case "provisioningtemplate":
		exists = r.prov.templates[name] != nil
	case "cacert":
		exists = r.prov.cas[name] != nil
	default:
		return invalid("%q is not the ARN of a taggable resource the simulator models (thing type, thing group, billing group, policy, role alias, provisioning template, CA certificate)", excerpt(arn))
	}
	if !exists {
		return notFound("Resource %s does not exist", arn)
	}
	return nil
}

// setTags merges tags into the resource's; r.mu is held and the tags are valid.
// More than 50 in all is a LimitExceededException and changes nothing.
func (r *Registry) setTags(arn string, tags []types.Tag) error {
	if len(tags) == 0 {
		return nil
	}
	cur := r.tags[arn]
	n := len(cur)
	for _, t := range tags {
		if _, ok := cur[aws.ToString(t.Key)]; !ok {
			n++
		}
	}
	if n > maxTagsPerResource {
		return &types.LimitExceededException{Message: aws.String("A resource can have at most 50 tags")}
	}
	if cur == nil {
		cur = map[string]string{}
		r.tags[arn] = cur
	}
	for _, t := range tags {
		cur[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return nil
}

// createTags validates a Create call's tags against the limits before the
// resource exists.
func createTags(tags []types.Tag) error {
	if err := validateTags(tags); err != nil {
		return err
	}
	keys := map[string]bool{}
	for _, t := range tags {
		keys[aws.ToString(t.Key)] = true
	}
	if len(keys) > maxTagsPerResource {
		return &types.LimitExceededException{Message: aws.String("A resource can have at most 50 tags")}
	}
	return nil
}

// TagResource adds or overwrites tags of a thing type, thing group, billing
// group or policy.
func (r *Registry) TagResource(ctx context.Context, in *iot.TagResourceInput, _ ...func(*iot.Options)) (*iot.TagResourceOutput, error) {
	return call(ctx, r, "TagResource", in, func(in *iot.TagResourceInput) (*iot.TagResourceOutput, error) {
		if err := need("TagResourceInput", member{"ResourceArn", in.ResourceArn != nil}, member{"Tags", in.Tags != nil}); err != nil {
			return nil, err
		}
		if err := validateTags(in.Tags); err != nil {
			return nil, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := r.taggable(*in.ResourceArn); err != nil {
			return nil, err
		}
		if err := r.setTags(*in.ResourceArn, in.Tags); err != nil {
			return nil, err
		}
		return &iot.TagResourceOutput{}, nil
	})
}

// UntagResource removes tag keys from a resource; keys it does not have are no
// error.
func (r *Registry) UntagResource(ctx context.Context, in *iot.UntagResourceInput, _ ...func(*iot.Options)) (*iot.UntagResourceOutput, error) {
	return call(ctx, r, "UntagResource", in, func(in *iot.UntagResourceInput) (*iot.UntagResourceOutput, error) {
		if err := need("UntagResourceInput", member{"ResourceArn", in.ResourceArn != nil}, member{"TagKeys", in.TagKeys != nil}); err != nil {
			return nil, err
		}
		for _, k := range in.TagKeys {
			if reservedTagKey(k) {
				return nil, invalid("Tag key %q: the aws: prefix is reserved for AWS use", excerpt(k))
			}
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := r.taggable(*in.ResourceArn); err != nil {
			return nil, err
		}
		for _, k := range in.TagKeys {
			delete(r.tags[*in.ResourceArn], k)
		}
		return &iot.UntagResourceOutput{}, nil
	})
}

// ListTagsForResource lists a resource's tags by key, all in one page (a
// resource has at most 50).
func (r *Registry) ListTagsForResource(ctx context.Context, in *iot.ListTagsForResourceInput, _ ...func(*iot.Options)) (*iot.ListTagsForResourceOutput, error) {
	return call(ctx, r, "ListTagsForResource", in, func(in *iot.ListTagsForResourceInput) (*iot.ListTagsForResourceOutput, error) {
		if in.ResourceArn == nil {
			return nil, required("ListTagsForResourceInput", "ResourceArn")
		}
		if aws.ToString(in.NextToken) != "" {
			return nil, invalid("The pagination token %q is invalid", excerpt(*in.NextToken))
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		if err := r.taggable(*in.ResourceArn); err != nil {
			return nil, err
		}
		cur := r.tags[*in.ResourceArn]
		keys := make([]string, 0, len(cur))
		for k := range cur {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := &iot.ListTagsForResourceOutput{Tags: []types.Tag{}}
		for _, k := range keys {
			out.Tags = append(out.Tags, types.Tag{Key: aws.String(k), Value: aws.String(cur[k])})
		}
		return out, nil
	})
}
