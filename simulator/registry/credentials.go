package registry

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// provisioning is the registry's onboarding and credential-provider content: role
// aliases, provisioning templates and CA certificates. None of them raises a
// registry event, in AWS as here. Its maps are created on first use, under Registry.mu.
type provisioning struct {
	roleAliases map[string]*roleAlias
	templates   map[string]*template
	cas         map[string]*caCertificate // by certificate id
	caSeq       uint64
	// code is the account's registration code in the Region (GetRegistrationCode).
	code string
	// foreignDefaultCAs are CA certificate ids another account has registered in
	// DEFAULT mode in this Region (SetCARegisteredElsewhere).
	foreignDefaultCAs map[string]bool
}

func (p *provisioning) init() {
	if p.roleAliases == nil {
		p.roleAliases = map[string]*roleAlias{}
		p.templates = map[string]*template{}
		p.cas = map[string]*caCertificate{}
		p.foreignDefaultCAs = map[string]bool{}
	}
}

// Role alias limits (CreateRoleAlias's API reference).
const (
	maxRoleAliasLen         = 128
	minCredentialDuration   = 900
	maxCredentialDuration   = 43200
	defaultCredentialSecond = 3600
)

// roleAlias is the credential provider's alias of an IAM role.
type roleAlias struct {
	name, arn, roleArn  string
	duration            int32
	created, lastModify time.Time
}

func roleAliasNotFound(name string) error {
	return notFound("Role alias %s does not exist", name)
}

// validRoleAliasName checks [\w=,@-]+, 1 to 128 characters.
func validRoleAliasName(name string) error {
	if name == "" || len(name) > maxRoleAliasLen {
		return invalid("Role alias must be 1 to %d characters long, got %d", maxRoleAliasLen, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '_' && c != '=' && c != ',' && c != '@' && c != '-' {
			return invalid("Role alias %q does not match [\\w=,@-]+", excerpt(name))
		}
	}
	return nil
}

// validRoleARN checks that arn names an IAM role of some account: IAM is global, so
// the same ARN is valid in every Region. AWS also requires the caller to hold
// iam:PassRole on it, which the fake does not model.
func validRoleARN(field, arn string) error {
	parts := strings.SplitN(arn, ":", 6)
	if len(arn) < 20 || len(arn) > 2048 || len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || parts[3] != "" ||
		len(parts[4]) != 12 || !strings.HasPrefix(parts[5], "role/") || len(parts[5]) == len("role/") {
		return invalid("%s %q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", field, excerpt(arn))
	}
	return nil
}

func validCredentialDuration(d int32) error {
	if d < minCredentialDuration || d > maxCredentialDuration {
		return invalid("credentialDurationSeconds must be between %d and %d, got %d", minCredentialDuration, maxCredentialDuration, d)
	}
	return nil
}

// CreateRoleAlias creates a role alias: RoleArn must be an IAM role ARN,
// CredentialDurationSeconds 900 to 43200 (default 3600). An existing alias is a
// ResourceAlreadyExistsException. Tags are kept on creation (tags.go).
func (r *Registry) CreateRoleAlias(ctx context.Context, in *iot.CreateRoleAliasInput, _ ...func(*iot.Options)) (*iot.CreateRoleAliasOutput, error) {
	return call(ctx, r, "CreateRoleAlias", in, func(in *iot.CreateRoleAliasInput) (*iot.CreateRoleAliasOutput, error) {
		if err := need("CreateRoleAliasInput", member{"RoleAlias", in.RoleAlias != nil}, member{"RoleArn", in.RoleArn != nil}); err != nil {
			return nil, err
		}
		name := *in.RoleAlias
		if err := validRoleAliasName(name); err != nil {
			return nil, err
		}
		if err := validRoleARN("roleArn", *in.RoleArn); err != nil {
			return nil, err
		}
		d := int32(defaultCredentialSecond)
		if in.CredentialDurationSeconds != nil {
			d = *in.CredentialDurationSeconds
		}
		if err := validCredentialDuration(d); err != nil {
			return nil, err
		}
		if err := createTags(in.Tags); err != nil {
			return nil, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.prov.init()
		if a := r.prov.roleAliases[name]; a != nil {
			return nil, alreadyExists(name, a.arn, "Role alias %s already exists", name)
		}
		now := r.now()
		a := &roleAlias{name: name, arn: r.arn("rolealias", name), roleArn: *in.RoleArn, duration: d, created: now, lastModify: now}
		r.prov.roleAliases[name] = a
		_ = r.setTags(a.arn, in.Tags) // checked by createTags
		return &iot.CreateRoleAliasOutput{RoleAlias: aws.String(name), RoleAliasArn: aws.String(a.arn)}, nil
	})
}

// DescribeRoleAlias returns a role alias.
func (r *Registry) DescribeRoleAlias(ctx context.Context, in *iot.DescribeRoleAliasInput, _ ...func(*iot.Options)) (*iot.DescribeRoleAliasOutput, error) {
	return call(ctx, r, "DescribeRoleAlias", in, func(in *iot.DescribeRoleAliasInput) (*iot.DescribeRoleAliasOutput, error) {
		if in.RoleAlias == nil {
			return nil, required("DescribeRoleAliasInput", "RoleAlias")
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		a := r.prov.roleAliases[*in.RoleAlias]
		if a == nil {
			return nil, roleAliasNotFound(*in.RoleAlias)
		}
		return &iot.DescribeRoleAliasOutput{RoleAliasDescription: &types.RoleAliasDescription{
			RoleAlias: aws.String(a.name), RoleAliasArn: aws.String(a.arn), RoleArn: aws.String(a.roleArn),
			Owner: aws.String(r.account), CredentialDurationSeconds: aws.Int32(a.duration),
			CreationDate: timePtr(a.created), LastModifiedDate: timePtr(a.lastModify),
		}}, nil
	})
}

// UpdateRoleAlias changes a role alias's role and/or credential duration (each
// validated as by CreateRoleAlias; an absent member is left as it is).
func (r *Registry) UpdateRoleAlias(ctx context.Context, in *iot.UpdateRoleAliasInput, _ ...func(*iot.Options)) (*iot.UpdateRoleAliasOutput, error) {
	return call(ctx, r, "UpdateRoleAlias", in, func(in *iot.UpdateRoleAliasInput) (*iot.UpdateRoleAliasOutput, error) {
		if in.RoleAlias == nil {
			return nil, required("UpdateRoleAliasInput", "RoleAlias")
		}
		if in.RoleArn != nil {
			if err := validRoleARN("roleArn", *in.RoleArn); err != nil {
				return nil, err
			}
		}
		if in.CredentialDurationSeconds != nil {
			if err := validCredentialDuration(*in.CredentialDurationSeconds); err != nil {
				return nil, err
			}
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		a := r.prov.roleAliases[*in.RoleAlias]
		if a == nil {
			return nil, roleAliasNotFound(*in.RoleAlias)
		}
		if in.RoleArn != nil {
			a.roleArn = *in.RoleArn
		}
		if in.CredentialDurationSeconds != nil {
			a.duration = *in.CredentialDurationSeconds
		}
		a.lastModify = r.now()
		return &iot.UpdateRoleAliasOutput{RoleAlias: aws.String(a.name), RoleAliasArn: aws.String(a.arn)}, nil
	})
}

// DeleteRoleAlias deletes a role alias; a missing one is a ResourceNotFoundException.
func (r *Registry) DeleteRoleAlias(ctx context.Context, in *iot.DeleteRoleAliasInput, _ ...func(*iot.Options)) (*iot.DeleteRoleAliasOutput, error) {
	return call(ctx, r, "DeleteRoleAlias", in, func(in *iot.DeleteRoleAliasInput) (*iot.DeleteRoleAliasOutput, error) {
		if in.RoleAlias == nil {
			return nil, required("DeleteRoleAliasInput", "RoleAlias")
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		a := r.prov.roleAliases[*in.RoleAlias]
		if a == nil {
			return nil, roleAliasNotFound(*in.RoleAlias)
		}
		delete(r.prov.roleAliases, a.name)
		delete(r.tags, a.arn)
		return &iot.DeleteRoleAliasOutput{}, nil
	})
}

// ListRoleAliases lists role alias names by name (AscendingOrder=false, the default,
// reverses the order, as ListPolicies does), paged by Marker and PageSize.
func (r *Registry) ListRoleAliases(ctx context.Context, in *iot.ListRoleAliasesInput, _ ...func(*iot.Options)) (*iot.ListRoleAliasesOutput, error) {
	return call(ctx, r, "ListRoleAliases", in, func(in *iot.ListRoleAliasesInput) (*iot.ListRoleAliasesOutput, error) {
		p, err := parsePage("ListRoleAliases", in.Marker, in.PageSize, !in.AscendingOrder)
		if err != nil {
			return nil, err
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		page, next := p.page("ListRoleAliases", sortedSet(r.prov.roleAliases), nil)
		return &iot.ListRoleAliasesOutput{RoleAliases: page, NextMarker: next}, nil
	})
}
