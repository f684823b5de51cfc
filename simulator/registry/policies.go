package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

type policyVersion struct {
	id       int
	document string
	created  time.Time
}

type policy struct {
	name, arn      string
	versions       map[int]*policyVersion
	defaultVersion int
	nextVersion    int
	created        time.Time
	modified       time.Time
	generationID   string
	targets        map[string]struct{} // certificate ARNs
}

const (
	maxPolicyVersions = 5
	maxPolicyChars    = 2048 // excluding white space, as AWS counts
)

func malformed(format string, args ...any) error {
	return &types.MalformedPolicyException{Message: aws.String(fmt.Sprintf(format, args...))}
}

// validatePolicyDocument checks what the simulator models of AWS's policy
// validation: a JSON object with a Statement, at most 2048 characters
// excluding white space.
func validatePolicyDocument(doc string) error {
	n := 0
	for _, c := range doc {
		if !unicode.IsSpace(c) {
			n++
		}
	}
	if n > maxPolicyChars {
		return malformed("Policy document is %d characters long excluding white space, the maximum is %d", n, maxPolicyChars)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &obj); err != nil {
		return malformed("Policy document is not a valid JSON object: %v", err)
	}
	if _, ok := obj["Statement"]; !ok {
		return malformed("Policy document has no Statement")
	}
	return nil
}

// policyOf returns the policy named by the PolicyName member of a call whose input
// type is input (the SDK's parameter validation error when it is missing); mu must
// be held.
func (r *Registry) policyOf(input string, name *string) (*policy, error) {
	if name == nil {
		return nil, required(input, "PolicyName")
	}
	return r.policyNamed(*name)
}

// policyNamed returns the named policy, or the error AWS gives when there is none;
// mu must be held.
func (r *Registry) policyNamed(name string) (*policy, error) {
	p := r.policies[name]
	if p == nil {
		return nil, notFound("The policy %s does not exist", name)
	}
	return p, nil
}

// CreatePolicy creates a policy with version 1 as its default. The document
// must be valid (MalformedPolicyException); an existing name is a
// ResourceAlreadyExistsException. Tags are kept (tags.go).
func (r *Registry) CreatePolicy(ctx context.Context, in *iot.CreatePolicyInput, _ ...func(*iot.Options)) (*iot.CreatePolicyOutput, error) {
	return call(ctx, r, "CreatePolicy", in, func(in *iot.CreatePolicyInput) (*iot.CreatePolicyOutput, error) {
		if err := need("CreatePolicyInput", member{"PolicyDocument", in.PolicyDocument != nil}, member{"PolicyName", in.PolicyName != nil}); err != nil {
			return nil, err
		}
		name, doc := *in.PolicyName, *in.PolicyDocument
		if err := validPolicyName(name); err != nil {
			return nil, err
		}
		if err := validatePolicyDocument(doc); err != nil {
			return nil, err
		}
		if err := createTags(in.Tags); err != nil {
			return nil, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if p := r.policies[name]; p != nil {
			return nil, alreadyExists(name, p.arn, "Policy %s already exists", name)
		}
		now := r.now()
		p := &policy{
			name: name, arn: r.arn("policy", name), defaultVersion: 1, nextVersion: 2, created: now, modified: now,
			generationID: newHexID(32), targets: map[string]struct{}{},
			versions: map[int]*policyVersion{1: {id: 1, document: doc, created: now}},
		}
		r.policies[name] = p
		_ = r.setTags(p.arn, in.Tags) // checked by createTags
		r.policyKeys.invalidate()
		return &iot.CreatePolicyOutput{
			PolicyArn: aws.String(p.arn), PolicyDocument: aws.String(doc), PolicyName: aws.String(name), PolicyVersionId: aws.String("1"),
		}, nil
	})
}

// GetPolicy returns a policy with its default version's document.
func (r *Registry) GetPolicy(ctx context.Context, in *iot.GetPolicyInput, _ ...func(*iot.Options)) (*iot.GetPolicyOutput, error) {
	return call(ctx, r, "GetPolicy", in, func(in *iot.GetPolicyInput) (*iot.GetPolicyOutput, error) {
		r.mu.RLock()
		defer r.mu.RUnlock()
		p, err := r.policyOf("GetPolicyInput", in.PolicyName)
		if err != nil {
			return nil, err
		}
		return &iot.GetPolicyOutput{
			CreationDate: timePtr(p.created), DefaultVersionId: aws.String(strconv.Itoa(p.defaultVersion)),
			GenerationId: aws.String(p.generationID), LastModifiedDate: timePtr(p.modified), PolicyArn: aws.String(p.arn),
			PolicyDocument: aws.String(p.versions[p.defaultVersion].document), PolicyName: aws.String(p.name),
		}, nil
	})
}

// DeletePolicy deletes a policy that is attached to nothing and has no
// version besides the default (DeleteConflictException otherwise).
func (r *Registry) DeletePolicy(ctx context.Context, in *iot.DeletePolicyInput, _ ...func(*iot.Options)) (*iot.DeletePolicyOutput, error) {
	return call(ctx, r, "DeletePolicy", in, func(in *iot.DeletePolicyInput) (*iot.DeletePolicyOutput, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		p, err := r.policyOf("DeletePolicyInput", in.PolicyName)
		if err != nil {
			return nil, err
		}
		if len(p.targets) > 0 {
			return nil, deleteConflict("The policy cannot be deleted as the policy is attached to one or more principals (name=%s)", p.name)
		}
		if len(p.versions) > 1 {
			return nil, deleteConflict("Cannot delete the policy because it has one or more policy versions attached to it (name=%s)", p.name)
		}
		delete(r.policies, p.name)
		delete(r.tags, p.arn)
		r.policyKeys.invalidate()
		return &iot.DeletePolicyOutput{}, nil
	})
}

// CreatePolicyVersion adds a version (ids are never reused), the default one
// if SetAsDefault. A policy has at most 5 versions
// (VersionsLimitExceededException).
func (r *Registry) CreatePolicyVersion(ctx context.Context, in *iot.CreatePolicyVersionInput, _ ...func(*iot.Options)) (*iot.CreatePolicyVersionOutput, error) {
	return call(ctx, r, "CreatePolicyVersion", in, func(in *iot.CreatePolicyVersionInput) (*iot.CreatePolicyVersionOutput, error) {
		if err := need("CreatePolicyVersionInput", member{"PolicyDocument", in.PolicyDocument != nil}, member{"PolicyName", in.PolicyName != nil}); err != nil {
			return nil, err
		}
		if err := validatePolicyDocument(*in.PolicyDocument); err != nil {
			return nil, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		p, err := r.policyNamed(*in.PolicyName)
		if err != nil {
			return nil, err
		}
		if len(p.versions) >= maxPolicyVersions {
			return nil, &types.VersionsLimitExceededException{Message: aws.String(fmt.Sprintf(
				"The policy %s already has the maximum number of versions (%d)", p.name, maxPolicyVersions))}
		}
		now := r.now()
		v := &policyVersion{id: p.nextVersion, document: *in.PolicyDocument, created: now}
		p.versions[v.id] = v
		p.nextVersion++
		if in.SetAsDefault {
			p.defaultVersion = v.id
		}
		p.modified, p.generationID = now, newHexID(32)
		return &iot.CreatePolicyVersionOutput{
			IsDefaultVersion: in.SetAsDefault, PolicyArn: aws.String(p.arn), PolicyDocument: aws.String(v.document),
			PolicyVersionId: aws.String(strconv.Itoa(v.id)),
		}, nil
	})
}

// ListPolicyVersions lists a policy's versions, newest first.
func (r *Registry) ListPolicyVersions(ctx context.Context, in *iot.ListPolicyVersionsInput, _ ...func(*iot.Options)) (*iot.ListPolicyVersionsOutput, error) {
	return call(ctx, r, "ListPolicyVersions", in, func(in *iot.ListPolicyVersionsInput) (*iot.ListPolicyVersionsOutput, error) {
		r.mu.RLock()
		defer r.mu.RUnlock()
		p, err := r.policyOf("ListPolicyVersionsInput", in.PolicyName)
		if err != nil {
			return nil, err
		}
		ids := make([]int, 0, len(p.versions))
		for id := range p.versions {
			ids = append(ids, id)
		}
		sort.Sort(sort.Reverse(sort.IntSlice(ids)))
		out := &iot.ListPolicyVersionsOutput{PolicyVersions: make([]types.PolicyVersion, 0, len(ids))}
		for _, id := range ids {
			out.PolicyVersions = append(out.PolicyVersions, types.PolicyVersion{
				CreateDate: timePtr(p.versions[id].created), IsDefaultVersion: id == p.defaultVersion, VersionId: aws.String(strconv.Itoa(id)),
			})
		}
		return out, nil
	})
}

// policyVersionOf resolves a policy and one of its versions; mu must be held.
func (r *Registry) policyVersionOf(name, versionID string) (*policy, int, error) {
	p, err := r.policyNamed(name)
	if err != nil {
		return nil, 0, err
	}
	id, err := strconv.Atoi(versionID)
	if err != nil || id < 1 {
		return nil, 0, invalid("Policy version id %q is not valid", excerpt(versionID))
	}
	if p.versions[id] == nil {
		return nil, 0, notFound("Version %d of policy %s does not exist", id, name)
	}
	return p, id, nil
}

// DeletePolicyVersion deletes a non-default version (DeleteConflictException
// for the default one).
func (r *Registry) DeletePolicyVersion(ctx context.Context, in *iot.DeletePolicyVersionInput, _ ...func(*iot.Options)) (*iot.DeletePolicyVersionOutput, error) {
	return call(ctx, r, "DeletePolicyVersion", in, func(in *iot.DeletePolicyVersionInput) (*iot.DeletePolicyVersionOutput, error) {
		if err := need("DeletePolicyVersionInput", member{"PolicyName", in.PolicyName != nil}, member{"PolicyVersionId", in.PolicyVersionId != nil}); err != nil {
			return nil, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		p, id, err := r.policyVersionOf(*in.PolicyName, *in.PolicyVersionId)
		if err != nil {
			return nil, err
		}
		if id == p.defaultVersion {
			return nil, deleteConflict("Cannot delete the default version of a policy (name=%s, version=%d)", p.name, id)
		}
		delete(p.versions, id)
		p.modified = r.now()
		return &iot.DeletePolicyVersionOutput{}, nil
	})
}

// SetDefaultPolicyVersion makes a version the default.
func (r *Registry) SetDefaultPolicyVersion(ctx context.Context, in *iot.SetDefaultPolicyVersionInput, _ ...func(*iot.Options)) (*iot.SetDefaultPolicyVersionOutput, error) {
	return call(ctx, r, "SetDefaultPolicyVersion", in, func(in *iot.SetDefaultPolicyVersionInput) (*iot.SetDefaultPolicyVersionOutput, error) {
		if err := need("SetDefaultPolicyVersionInput", member{"PolicyName", in.PolicyName != nil}, member{"PolicyVersionId", in.PolicyVersionId != nil}); err != nil {
			return nil, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		p, id, err := r.policyVersionOf(*in.PolicyName, *in.PolicyVersionId)
		if err != nil {
			return nil, err
		}
		if p.defaultVersion != id {
			p.defaultVersion = id
			p.modified, p.generationID = r.now(), newHexID(32)
		}
		return &iot.SetDefaultPolicyVersionOutput{}, nil
	})
}

// AttachPolicy attaches a policy to a certificate (Target = certificate ARN);
// re-attaching is a no-op. A certificate has at most 10 policies
// (LimitExceededException). Publishes no event.
func (r *Registry) AttachPolicy(ctx context.Context, in *iot.AttachPolicyInput, _ ...func(*iot.Options)) (*iot.AttachPolicyOutput, error) {
	return call(ctx, r, "AttachPolicy", in, func(in *iot.AttachPolicyInput) (*iot.AttachPolicyOutput, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		p, c, err := r.policyTarget("AttachPolicyInput", in.PolicyName, in.Target)
		if err != nil {
			return nil, err
		}
		if _, ok := c.policies[p.name]; ok {
			return &iot.AttachPolicyOutput{}, nil
		}
		if len(c.policies) >= maxPoliciesPerCert {
			return nil, &types.LimitExceededException{Message: aws.String(fmt.Sprintf(
				"The certificate %s already has the maximum number of policies attached (%d)", c.id, maxPoliciesPerCert))}
		}
		c.policies[p.name] = struct{}{}
		p.targets[c.arn] = struct{}{}
		return &iot.AttachPolicyOutput{}, nil
	})
}

// policyTarget resolves the policy and the certificate (by ARN) of an attach or
// detach call whose input type is input; mu must be held.
func (r *Registry) policyTarget(input string, policyName, target *string) (*policy, *certificate, error) {
	if err := need(input, member{"PolicyName", policyName != nil}, member{"Target", target != nil}); err != nil {
		return nil, nil, err
	}
	p, err := r.policyNamed(*policyName)
	if err != nil {
		return nil, nil, err
	}
	c, err := r.certByARN(*target)
	if err != nil {
		return nil, nil, err
	}
	return p, c, nil
}

// DetachPolicy detaches a policy from a certificate; detaching one that is not
// attached succeeds.
func (r *Registry) DetachPolicy(ctx context.Context, in *iot.DetachPolicyInput, _ ...func(*iot.Options)) (*iot.DetachPolicyOutput, error) {
	return call(ctx, r, "DetachPolicy", in, func(in *iot.DetachPolicyInput) (*iot.DetachPolicyOutput, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		p, c, err := r.policyTarget("DetachPolicyInput", in.PolicyName, in.Target)
		if err != nil {
			return nil, err
		}
		delete(c.policies, p.name)
		delete(p.targets, c.arn)
		return &iot.DetachPolicyOutput{}, nil
	})
}

// ListAttachedPolicies lists the policies attached to a certificate, by name,
// paged with Marker/PageSize. Recursive is ignored (it matters for thing
// groups only).
func (r *Registry) ListAttachedPolicies(ctx context.Context, in *iot.ListAttachedPoliciesInput, _ ...func(*iot.Options)) (*iot.ListAttachedPoliciesOutput, error) {
	return call(ctx, r, "ListAttachedPolicies", in, func(in *iot.ListAttachedPoliciesInput) (*iot.ListAttachedPoliciesOutput, error) {
		names, next, err := r.listPage("ListAttachedPolicies", "Target", in.Target, in.Marker, in.PageSize,
			r.certNames(func(c *certificate) []string { return sortedSet(c.policies) }))
		if err != nil {
			return nil, err
		}
		return &iot.ListAttachedPoliciesOutput{Policies: r.policyRefs(names), NextMarker: next}, nil
	})
}

func (r *Registry) policyRefs(names []string) []types.Policy {
	out := make([]types.Policy, 0, len(names))
	for _, n := range names {
		out = append(out, types.Policy{PolicyArn: aws.String(r.arn("policy", n)), PolicyName: aws.String(n)})
	}
	return out
}

// ListTargetsForPolicy lists the certificate ARNs a policy is attached to,
// sorted, paged with Marker/PageSize.
func (r *Registry) ListTargetsForPolicy(ctx context.Context, in *iot.ListTargetsForPolicyInput, _ ...func(*iot.Options)) (*iot.ListTargetsForPolicyOutput, error) {
	return call(ctx, r, "ListTargetsForPolicy", in, func(in *iot.ListTargetsForPolicyInput) (*iot.ListTargetsForPolicyOutput, error) {
		targets, next, err := r.listPage("ListTargetsForPolicy", "PolicyName", in.PolicyName, in.Marker, in.PageSize,
			func(name string) ([]string, error) {
				p, err := r.policyNamed(name)
				if err != nil {
					return nil, err
				}
				return sortedSet(p.targets), nil
			})
		if err != nil {
			return nil, err
		}
		return &iot.ListTargetsForPolicyOutput{Targets: nonNil(targets), NextMarker: next}, nil
	})
}

// ListPolicies lists policies ordered by name, descending unless
// AscendingOrder (AWS's default is false), paged with Marker/PageSize.
func (r *Registry) ListPolicies(ctx context.Context, in *iot.ListPoliciesInput, _ ...func(*iot.Options)) (*iot.ListPoliciesOutput, error) {
	return call(ctx, r, "ListPolicies", in, func(in *iot.ListPoliciesInput) (*iot.ListPoliciesOutput, error) {
		pg, err := parsePage("ListPolicies", in.Marker, in.PageSize, !in.AscendingOrder)
		if err != nil {
			return nil, err
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		names, next := pg.page("ListPolicies", r.policyKeys.get(keysOf(r.policies)), nil)
		return &iot.ListPoliciesOutput{Policies: r.policyRefs(names), NextMarker: next}, nil
	})
}
