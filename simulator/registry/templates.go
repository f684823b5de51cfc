package registry

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// Provisioning template limits (CreateProvisioningTemplate's API reference and "AWS
// IoT Core endpoints and quotas": 5 versions per template).
const (
	maxTemplateNameLen    = 36
	maxTemplateDescLen    = 500
	maxTemplateBody       = 10240
	maxTemplateVersions   = 5
	defaultPayloadVersion = "2020-04-01"
)

// template is a provisioning template (fleet provisioning or JITP) with its versions.
type template struct {
	name, arn, description string
	typ                    types.TemplateType
	enabled                bool
	roleArn                string
	hook                   *types.ProvisioningHook
	versions               map[int32]*templateVersion
	defaultVersion         int32
	nextVersion            int32
	created, modified      time.Time
}

type templateVersion struct {
	id      int32
	body    string
	created time.Time
}

func templateNotFound(name string) error {
	return notFound("The provisioning template %s does not exist", name)
}

// validTemplateName checks ^[0-9A-Za-z_-]+$, 1 to 36 characters.
func validTemplateName(name string) error {
	if name == "" || len(name) > maxTemplateNameLen {
		return invalid("Template name must be 1 to %d characters long, got %d", maxTemplateNameLen, len(name))
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && c != '_' && c != '-' {
			return invalid("Template name %q does not match ^[0-9A-Za-z_-]+$", excerpt(name))
		}
	}
	return nil
}

// validTemplateBody checks that a template body is a JSON object with a Resources
// object, at most 10,240 characters: what AWS parses a template as.
func validTemplateBody(body string) error {
	if len(body) > maxTemplateBody {
		return invalid("The template body is %d characters, over %d", len(body), maxTemplateBody)
	}
	var doc struct {
		Resources map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || doc.Resources == nil {
		return invalid("The template body is not a JSON object with a Resources object (%d characters, starts %q)", len(body), excerpt(body))
	}
	return nil
}

// validHook checks a pre-provisioning hook: a Lambda function of this Region (AWS
// invokes the hook in the template's Region) and payload version 2020-04-01.
func (r *Registry) validHook(h *types.ProvisioningHook) (*types.ProvisioningHook, error) {
	if h.TargetArn == nil {
		return nil, required("ProvisioningHook", "TargetArn")
	}
	arn := *h.TargetArn
	prefix := "arn:" + r.partition + ":lambda:" + r.region + ":"
	if !strings.HasPrefix(arn, prefix) || !strings.Contains(arn[len(prefix):], ":function:") {
		return nil, invalid("The pre-provisioning hook %q is not a Lambda function ARN in %s", excerpt(arn), r.region)
	}
	v := aws.ToString(h.PayloadVersion)
	if v == "" {
		v = defaultPayloadVersion
	}
	if v != defaultPayloadVersion {
		return nil, invalid("The pre-provisioning hook payload version %q is not supported (%s)", excerpt(v), defaultPayloadVersion)
	}
	return &types.ProvisioningHook{TargetArn: aws.String(arn), PayloadVersion: aws.String(v)}, nil
}

func cloneHook(h *types.ProvisioningHook) *types.ProvisioningHook {
	if h == nil {
		return nil
	}
	return &types.ProvisioningHook{TargetArn: cloneString(h.TargetArn), PayloadVersion: cloneString(h.PayloadVersion)}
}

// CreateProvisioningTemplate creates a template with its first version (id 1, the
// default). Type defaults to FLEET_PROVISIONING; a JITP template takes no
// pre-provisioning hook (InvalidRequestException), a fleet provisioning template's
// hook must be a Lambda function ARN of this Region. ProvisioningRoleArn must be an
// IAM role ARN; the body a JSON object with Resources. An existing name is a
// ResourceAlreadyExistsException. Tags are kept on creation (tags.go).
func (r *Registry) CreateProvisioningTemplate(ctx context.Context, in *iot.CreateProvisioningTemplateInput, _ ...func(*iot.Options)) (*iot.CreateProvisioningTemplateOutput, error) {
	return call(ctx, r, "CreateProvisioningTemplate", in, func(in *iot.CreateProvisioningTemplateInput) (*iot.CreateProvisioningTemplateOutput, error) {
		if err := need("CreateProvisioningTemplateInput", member{"TemplateName", in.TemplateName != nil},
			member{"TemplateBody", in.TemplateBody != nil}, member{"ProvisioningRoleArn", in.ProvisioningRoleArn != nil}); err != nil {
			return nil, err
		}
		name := *in.TemplateName
		if err := validTemplateName(name); err != nil {
			return nil, err
		}
		if len(aws.ToString(in.Description)) > maxTemplateDescLen {
			return nil, invalid("The description is %d characters, over %d", len(aws.ToString(in.Description)), maxTemplateDescLen)
		}
		if err := validTemplateBody(*in.TemplateBody); err != nil {
			return nil, err
		}
		if err := validRoleARN("provisioningRoleArn", *in.ProvisioningRoleArn); err != nil {
			return nil, err
		}
		if err := createTags(in.Tags); err != nil {
			return nil, err
		}
		typ := in.Type
		switch typ {
		case "":
			typ = types.TemplateTypeFleetProvisioning
		case types.TemplateTypeFleetProvisioning, types.TemplateTypeJitp:
		default:
			return nil, invalid("Template type %q is not FLEET_PROVISIONING or JITP", excerpt(string(typ)))
		}
		var hook *types.ProvisioningHook
		if in.PreProvisioningHook != nil {
			if typ == types.TemplateTypeJitp {
				return nil, invalid("A JITP template cannot have a pre-provisioning hook")
			}
			var err error
			if hook, err = r.validHook(in.PreProvisioningHook); err != nil {
				return nil, err
			}
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.prov.init()
		if t := r.prov.templates[name]; t != nil {
			return nil, alreadyExists(name, t.arn, "The provisioning template %s already exists", name)
		}
		now := r.now()
		t := &template{
			name: name, arn: r.arn("provisioningtemplate", name), description: aws.ToString(in.Description), typ: typ,
			enabled: aws.ToBool(in.Enabled), roleArn: *in.ProvisioningRoleArn, hook: hook,
			versions: map[int32]*templateVersion{1: {id: 1, body: *in.TemplateBody, created: now}}, defaultVersion: 1, nextVersion: 2,
			created: now, modified: now,
		}
		r.prov.templates[name] = t
		_ = r.setTags(t.arn, in.Tags) // checked by createTags
		return &iot.CreateProvisioningTemplateOutput{TemplateArn: aws.String(t.arn), TemplateName: aws.String(name), DefaultVersionId: aws.Int32(1)}, nil
	})
}

// withTemplate runs f on the template name names, under r.mu (written when write is
// set): the lookup every call on a template or its versions begins with. No name is a
// missing member of input, an unknown one a ResourceNotFoundException.
func withTemplate[O any](r *Registry, input string, name *string, write bool, f func(t *template) (*O, error)) (*O, error) {
	if name == nil {
		return nil, required(input, "TemplateName")
	}
	if write {
		r.mu.Lock()
		defer r.mu.Unlock()
	} else {
		r.mu.RLock()
		defer r.mu.RUnlock()
	}
	t := r.prov.templates[*name]
	if t == nil {
		return nil, templateNotFound(*name)
	}
	return f(t)
}

// version returns the template's version id, or a ResourceNotFoundException.
func (t *template) version(id int32) (*templateVersion, error) {
	if v := t.versions[id]; v != nil {
		return v, nil
	}
	return nil, templateVersionNotFound(t.name, id)
}

// DescribeProvisioningTemplate returns a template with its default version's body.
func (r *Registry) DescribeProvisioningTemplate(ctx context.Context, in *iot.DescribeProvisioningTemplateInput, _ ...func(*iot.Options)) (*iot.DescribeProvisioningTemplateOutput, error) {
	return call(ctx, r, "DescribeProvisioningTemplate", in, func(in *iot.DescribeProvisioningTemplateInput) (*iot.DescribeProvisioningTemplateOutput, error) {
		return withTemplate(r, "DescribeProvisioningTemplateInput", in.TemplateName, false, func(t *template) (*iot.DescribeProvisioningTemplateOutput, error) {
			return &iot.DescribeProvisioningTemplateOutput{
				TemplateArn: aws.String(t.arn), TemplateName: aws.String(t.name), Description: aws.String(t.description),
				CreationDate: timePtr(t.created), LastModifiedDate: timePtr(t.modified), DefaultVersionId: aws.Int32(t.defaultVersion),
				TemplateBody: aws.String(t.versions[t.defaultVersion].body), Enabled: aws.Bool(t.enabled),
				ProvisioningRoleArn: aws.String(t.roleArn), PreProvisioningHook: cloneHook(t.hook), Type: t.typ,
			}, nil
		})
	})
}

// UpdateProvisioningTemplate changes a template's description, enabled flag, default
// version (which must exist), role and hook (RemovePreProvisioningHook removes it;
// setting and removing at once is an InvalidRequestException). Absent members are
// left as they are.
func (r *Registry) UpdateProvisioningTemplate(ctx context.Context, in *iot.UpdateProvisioningTemplateInput, _ ...func(*iot.Options)) (*iot.UpdateProvisioningTemplateOutput, error) {
	return call(ctx, r, "UpdateProvisioningTemplate", in, func(in *iot.UpdateProvisioningTemplateInput) (*iot.UpdateProvisioningTemplateOutput, error) {
		if len(aws.ToString(in.Description)) > maxTemplateDescLen {
			return nil, invalid("The description is %d characters, over %d", len(aws.ToString(in.Description)), maxTemplateDescLen)
		}
		if in.ProvisioningRoleArn != nil {
			if err := validRoleARN("provisioningRoleArn", *in.ProvisioningRoleArn); err != nil {
				return nil, err
			}
		}
		var hook *types.ProvisioningHook
		if in.PreProvisioningHook != nil {
			if aws.ToBool(in.RemovePreProvisioningHook) {
				return nil, invalid("preProvisioningHook and removePreProvisioningHook cannot both be set")
			}
			var err error
			if hook, err = r.validHook(in.PreProvisioningHook); err != nil {
				return nil, err
			}
		}
		return withTemplate(r, "UpdateProvisioningTemplateInput", in.TemplateName, true, func(t *template) (*iot.UpdateProvisioningTemplateOutput, error) {
			if hook != nil && t.typ == types.TemplateTypeJitp {
				return nil, invalid("A JITP template cannot have a pre-provisioning hook")
			}
			if in.DefaultVersionId != nil {
				if _, err := t.version(*in.DefaultVersionId); err != nil {
					return nil, err
				}
				t.defaultVersion = *in.DefaultVersionId
			}
			if in.Description != nil {
				t.description = *in.Description
			}
			if in.Enabled != nil {
				t.enabled = *in.Enabled
			}
			if in.ProvisioningRoleArn != nil {
				t.roleArn = *in.ProvisioningRoleArn
			}
			if hook != nil {
				t.hook = hook
			}
			if aws.ToBool(in.RemovePreProvisioningHook) {
				t.hook = nil
			}
			t.modified = r.now()
			return &iot.UpdateProvisioningTemplateOutput{}, nil
		})
	})
}

// DeleteProvisioningTemplate deletes a template and its versions. A template named by
// a CA certificate's registration config is a DeleteConflictException; a missing one
// a ResourceNotFoundException.
func (r *Registry) DeleteProvisioningTemplate(ctx context.Context, in *iot.DeleteProvisioningTemplateInput, _ ...func(*iot.Options)) (*iot.DeleteProvisioningTemplateOutput, error) {
	return call(ctx, r, "DeleteProvisioningTemplate", in, func(in *iot.DeleteProvisioningTemplateInput) (*iot.DeleteProvisioningTemplateOutput, error) {
		return withTemplate(r, "DeleteProvisioningTemplateInput", in.TemplateName, true, func(t *template) (*iot.DeleteProvisioningTemplateOutput, error) {
			for _, ca := range r.prov.cas {
				if ca.config != nil && aws.ToString(ca.config.TemplateName) == t.name {
					return nil, deleteConflict("The provisioning template %s is used by CA certificate %s", t.name, ca.id)
				}
			}
			delete(r.prov.templates, t.name)
			delete(r.tags, t.arn)
			return &iot.DeleteProvisioningTemplateOutput{}, nil
		})
	})
}

// ListProvisioningTemplates lists templates by name, paged by NextToken and MaxResults.
func (r *Registry) ListProvisioningTemplates(ctx context.Context, in *iot.ListProvisioningTemplatesInput, _ ...func(*iot.Options)) (*iot.ListProvisioningTemplatesOutput, error) {
	return call(ctx, r, "ListProvisioningTemplates", in, func(in *iot.ListProvisioningTemplatesInput) (*iot.ListProvisioningTemplatesOutput, error) {
		p, err := parsePage("ListProvisioningTemplates", in.NextToken, in.MaxResults, false)
		if err != nil {
			return nil, err
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		page, next := p.page("ListProvisioningTemplates", sortedSet(r.prov.templates), nil)
		out := &iot.ListProvisioningTemplatesOutput{NextToken: next, Templates: []types.ProvisioningTemplateSummary{}}
		for _, n := range page {
			t := r.prov.templates[n]
			out.Templates = append(out.Templates, types.ProvisioningTemplateSummary{
				TemplateArn: aws.String(t.arn), TemplateName: aws.String(t.name), Description: aws.String(t.description),
				CreationDate: timePtr(t.created), LastModifiedDate: timePtr(t.modified), Enabled: aws.Bool(t.enabled), Type: t.typ,
			})
		}
		return out, nil
	})
}

func templateVersionNotFound(name string, id int32) error {
	return notFound("Version %d of provisioning template %s does not exist", id, name)
}

// CreateProvisioningTemplateVersion adds a version (ids count up from the last one
// ever created); a template with 5 versions is a VersionsLimitExceededException.
func (r *Registry) CreateProvisioningTemplateVersion(ctx context.Context, in *iot.CreateProvisioningTemplateVersionInput, _ ...func(*iot.Options)) (*iot.CreateProvisioningTemplateVersionOutput, error) {
	return call(ctx, r, "CreateProvisioningTemplateVersion", in, func(in *iot.CreateProvisioningTemplateVersionInput) (*iot.CreateProvisioningTemplateVersionOutput, error) {
		if err := need("CreateProvisioningTemplateVersionInput", member{"TemplateName", in.TemplateName != nil}, member{"TemplateBody", in.TemplateBody != nil}); err != nil {
			return nil, err
		}
		if err := validTemplateBody(*in.TemplateBody); err != nil {
			return nil, err
		}
		return withTemplate(r, "CreateProvisioningTemplateVersionInput", in.TemplateName, true, func(t *template) (*iot.CreateProvisioningTemplateVersionOutput, error) {
			if len(t.versions) >= maxTemplateVersions {
				return nil, &types.VersionsLimitExceededException{Message: aws.String("The provisioning template " + t.name + " already has " + strconv.Itoa(maxTemplateVersions) + " versions")}
			}
			v := &templateVersion{id: t.nextVersion, body: *in.TemplateBody, created: r.now()}
			t.versions[v.id] = v
			t.nextVersion++
			if in.SetAsDefault {
				t.defaultVersion = v.id
			}
			t.modified = v.created
			return &iot.CreateProvisioningTemplateVersionOutput{
				TemplateArn: aws.String(t.arn), TemplateName: aws.String(t.name), VersionId: aws.Int32(v.id), IsDefaultVersion: t.defaultVersion == v.id,
			}, nil
		})
	})
}

// ListProvisioningTemplateVersions lists a template's versions, oldest first (one page:
// a template has at most 5).
func (r *Registry) ListProvisioningTemplateVersions(ctx context.Context, in *iot.ListProvisioningTemplateVersionsInput, _ ...func(*iot.Options)) (*iot.ListProvisioningTemplateVersionsOutput, error) {
	return call(ctx, r, "ListProvisioningTemplateVersions", in, func(in *iot.ListProvisioningTemplateVersionsInput) (*iot.ListProvisioningTemplateVersionsOutput, error) {
		return withTemplate(r, "ListProvisioningTemplateVersionsInput", in.TemplateName, false, func(t *template) (*iot.ListProvisioningTemplateVersionsOutput, error) {
			out := &iot.ListProvisioningTemplateVersionsOutput{Versions: []types.ProvisioningTemplateVersionSummary{}}
			for id := int32(1); id < t.nextVersion; id++ {
				if v := t.versions[id]; v != nil {
					out.Versions = append(out.Versions, types.ProvisioningTemplateVersionSummary{
						VersionId: aws.Int32(id), CreationDate: timePtr(v.created), IsDefaultVersion: id == t.defaultVersion,
					})
				}
			}
			return out, nil
		})
	})
}

// DescribeProvisioningTemplateVersion returns one version's body.
func (r *Registry) DescribeProvisioningTemplateVersion(ctx context.Context, in *iot.DescribeProvisioningTemplateVersionInput, _ ...func(*iot.Options)) (*iot.DescribeProvisioningTemplateVersionOutput, error) {
	return call(ctx, r, "DescribeProvisioningTemplateVersion", in, func(in *iot.DescribeProvisioningTemplateVersionInput) (*iot.DescribeProvisioningTemplateVersionOutput, error) {
		if err := need("DescribeProvisioningTemplateVersionInput", member{"TemplateName", in.TemplateName != nil}, member{"VersionId", in.VersionId != nil}); err != nil {
			return nil, err
		}
		return withTemplate(r, "DescribeProvisioningTemplateVersionInput", in.TemplateName, false, func(t *template) (*iot.DescribeProvisioningTemplateVersionOutput, error) {
			v, err := t.version(*in.VersionId)
			if err != nil {
				return nil, err
			}
			return &iot.DescribeProvisioningTemplateVersionOutput{
				VersionId: aws.Int32(v.id), TemplateBody: aws.String(v.body), CreationDate: timePtr(v.created), IsDefaultVersion: v.id == t.defaultVersion,
			}, nil
		})
	})
}

// DeleteProvisioningTemplateVersion deletes a version other than the default
// (DeleteConflictException).
func (r *Registry) DeleteProvisioningTemplateVersion(ctx context.Context, in *iot.DeleteProvisioningTemplateVersionInput, _ ...func(*iot.Options)) (*iot.DeleteProvisioningTemplateVersionOutput, error) {
	return call(ctx, r, "DeleteProvisioningTemplateVersion", in, func(in *iot.DeleteProvisioningTemplateVersionInput) (*iot.DeleteProvisioningTemplateVersionOutput, error) {
		if err := need("DeleteProvisioningTemplateVersionInput", member{"TemplateName", in.TemplateName != nil}, member{"VersionId", in.VersionId != nil}); err != nil {
			return nil, err
		}
		return withTemplate(r, "DeleteProvisioningTemplateVersionInput", in.TemplateName, true, func(t *template) (*iot.DeleteProvisioningTemplateVersionOutput, error) {
			if _, err := t.version(*in.VersionId); err != nil {
				return nil, err
			}
			if *in.VersionId == t.defaultVersion {
				return nil, deleteConflict("Version %d is the default version of provisioning template %s", *in.VersionId, t.name)
			}
			delete(t.versions, *in.VersionId)
			return &iot.DeleteProvisioningTemplateVersionOutput{}, nil
		})
	})
}
