package capture

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/state"
)

// RoleAlias captures a role alias (DescribeRoleAlias); one gone from the Region
// becomes a tombstone. Role aliases, provisioning templates and CA certificates raise
// no registry event: the sweep (and the redrive) capture them.
func (c *Capturer) RoleAlias(ctx context.Context, name string) (Result, error) {
	var res Result
	if c.Provisioning == nil {
		return res, permanent(fmt.Errorf("capture: no client for role aliases configured"))
	}
	readAt := c.now()
	d, err := c.Provisioning.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String(name)})
	if replication.IsNotFound(err) {
		return res, c.provisioningGone(ctx, &res, spec.KindRoleAlias, name, readAt)
	}
	if err != nil {
		return res, fmt.Errorf("capture: describe role alias %s: %w", name, err)
	}
	a := d.RoleAliasDescription
	if a == nil {
		return res, fmt.Errorf("capture: describe role alias %s: empty description", name)
	}
	body := state.RoleAlias{RoleARN: aws.ToString(a.RoleArn), CredentialDurationSeconds: aws.ToInt32(a.CredentialDurationSeconds)}
	if err := c.putBody(ctx, &res, spec.KindRoleAlias, name, body, readAt, time.Time{}); err != nil {
		return res, err
	}
	return res, c.resourceTags(ctx, &res, spec.KindRoleAlias, name, aws.ToString(a.RoleAliasArn), time.Time{})
}

// ProvisioningTemplate captures a provisioning template's default version and
// settings (DescribeProvisioningTemplate).
func (c *Capturer) ProvisioningTemplate(ctx context.Context, name string) (Result, error) {
	var res Result
	if c.Provisioning == nil {
		return res, permanent(fmt.Errorf("capture: no client for provisioning templates configured"))
	}
	readAt := c.now()
	d, err := c.Provisioning.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String(name)})
	if replication.IsNotFound(err) {
		return res, c.provisioningGone(ctx, &res, spec.KindProvisioningTemplate, name, readAt)
	}
	if err != nil {
		return res, fmt.Errorf("capture: describe provisioning template %s: %w", name, err)
	}
	body := state.ProvisioningTemplate{
		Type: string(d.Type), Description: aws.ToString(d.Description), Enabled: aws.ToBool(d.Enabled),
		Body: aws.ToString(d.TemplateBody), RoleARN: aws.ToString(d.ProvisioningRoleArn),
	}
	if h := d.PreProvisioningHook; h != nil {
		body.HookARN, body.HookPayloadVersion = aws.ToString(h.TargetArn), aws.ToString(h.PayloadVersion)
	}
	if err := c.putBody(ctx, &res, spec.KindProvisioningTemplate, name, body, readAt, time.Time{}); err != nil {
		return res, err
	}
	return res, c.resourceTags(ctx, &res, spec.KindProvisioningTemplate, name, aws.ToString(d.TemplateArn), time.Time{})
}

// CACertificate captures a registered CA certificate (DescribeCACertificate).
func (c *Capturer) CACertificate(ctx context.Context, id string) (Result, error) {
	var res Result
	if c.Provisioning == nil {
		return res, permanent(fmt.Errorf("capture: no client for CA certificates configured"))
	}
	readAt := c.now()
	d, err := c.Provisioning.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(id)})
	if replication.IsNotFound(err) {
		return res, c.provisioningGone(ctx, &res, spec.KindCACertificate, id, readAt)
	}
	if err != nil {
		return res, fmt.Errorf("capture: describe CA certificate %s: %w", id, err)
	}
	cd := d.CertificateDescription
	if cd == nil {
		return res, fmt.Errorf("capture: describe CA certificate %s: empty description", id)
	}
	body := state.CACertificate{
		PEM: aws.ToString(cd.CertificatePem), Status: string(cd.Status), AutoRegistration: string(cd.AutoRegistrationStatus), Mode: string(cd.CertificateMode),
	}
	if rc := d.RegistrationConfig; rc != nil {
		body.TemplateName, body.TemplateBody, body.RoleARN = aws.ToString(rc.TemplateName), aws.ToString(rc.TemplateBody), aws.ToString(rc.RoleArn)
	}
	if err := c.putBody(ctx, &res, spec.KindCACertificate, id, body, readAt, time.Time{}); err != nil {
		return res, err
	}
	return res, c.resourceTags(ctx, &res, spec.KindCACertificate, id, aws.ToString(cd.CertificateArn), time.Time{})
}

// provisioningGone writes the tombstone of a resource the Region no longer has, when
// the table holds it live and it was deleted here (not another Region's, not created
// here yet: Capturer.deletedHere).
func (c *Capturer) provisioningGone(ctx context.Context, res *Result, kind, name string, readAt time.Time) error {
	cur, known, err := c.Store.Get(ctx, kind, name)
	if err != nil || !known || cur.Deleted {
		return err // nothing to delete: no tombstone for what was never captured
	}
	if deleted, err := c.deletedHere(ctx, cur); err != nil || !deleted {
		return err
	}
	if err := c.tagsGone(ctx, res, kind, name, time.Time{}); err != nil {
		return err
	}
	return c.put(ctx, res, state.Tombstone(kind, name), readAt, time.Time{})
}

// provisioningExists reports whether an onboarding resource still exists here, with
// one Describe call (the sweep's table stage); ok is false for other kinds.
func (c *Capturer) provisioningExists(ctx context.Context, kind, name string) (exists, ok bool, err error) {
	if c.Provisioning == nil {
		return true, kind == spec.KindRoleAlias || kind == spec.KindProvisioningTemplate || kind == spec.KindCACertificate, nil
	}
	switch kind {
	case spec.KindRoleAlias:
		_, err = c.Provisioning.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String(name)})
	case spec.KindProvisioningTemplate:
		_, err = c.Provisioning.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String(name)})
	case spec.KindCACertificate:
		_, err = c.Provisioning.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(name)})
	default:
		return false, false, nil
	}
	if replication.IsNotFound(err) {
		return false, true, nil
	}
	return err == nil, true, err
}

// provisioningKey captures the onboarding resource a key names; ok is false for
// other kinds.
func (c *Capturer) provisioningKey(ctx context.Context, kind, name string) (Result, bool, error) {
	switch kind {
	case spec.KindRoleAlias:
		r, err := c.RoleAlias(ctx, name)
		return r, true, err
	case spec.KindProvisioningTemplate:
		r, err := c.ProvisioningTemplate(ctx, name)
		return r, true, err
	case spec.KindCACertificate:
		r, err := c.CACertificate(ctx, name)
		return r, true, err
	}
	return Result{}, false, nil
}

// The lists of the sweep's provisioning stage, in order: templates before the CA
// certificates whose registration configs name them.
const (
	listRoleAliases = "role-aliases"
	listTemplates   = "templates"
	listCAs         = "ca-certificates"
)

// provisioningPage lists one page of the stage's current list (token "<list>|<the
// list's own token>") and captures each resource; it returns the next token, "" at
// the end of the last list.
func (s *Sweeper) provisioningPage(ctx context.Context, tok string, size int32, record func(key string, err error) error) (visited, written int, next string, err error) {
	c := s.Capturer
	list, inner, _ := strings.Cut(tok, "|")
	if list == "" {
		list = listRoleAliases
	}
	var (
		names   []string
		kind    string
		nextTok *string
	)
	switch list {
	case listRoleAliases:
		kind = spec.KindRoleAlias
		out, err := c.Provisioning.ListRoleAliases(ctx, &iot.ListRoleAliasesInput{Marker: optional(inner), PageSize: aws.Int32(size), AscendingOrder: true})
		if err != nil {
			return 0, 0, tok, err
		}
		names, nextTok = out.RoleAliases, out.NextMarker
	case listTemplates:
		kind = spec.KindProvisioningTemplate
		out, err := c.Provisioning.ListProvisioningTemplates(ctx, &iot.ListProvisioningTemplatesInput{NextToken: optional(inner), MaxResults: aws.Int32(size)})
		if err != nil {
			return 0, 0, tok, err
		}
		for _, t := range out.Templates {
			names = append(names, aws.ToString(t.TemplateName))
		}
		nextTok = out.NextToken
	case listCAs:
		kind = spec.KindCACertificate
		out, err := c.Provisioning.ListCACertificates(ctx, &iot.ListCACertificatesInput{Marker: optional(inner), PageSize: aws.Int32(size), AscendingOrder: true})
		if err != nil {
			return 0, 0, tok, err
		}
		for _, ca := range out.Certificates {
			names = append(names, aws.ToString(ca.CertificateId))
		}
		nextTok = out.NextMarker
	default:
		return 0, 0, "", permanent(fmt.Errorf("capture: unknown provisioning sweep list %q", list))
	}
	for _, n := range names {
		visited++
		res, err := again(func() (Result, error) {
			r, _, err := c.provisioningKey(ctx, kind, n)
			return r, err
		})
		written += res.Written
		if err != nil {
			if rerr := record(spec.StateKey(kind, n), err); rerr != nil {
				return visited, written, tok, rerr
			}
		}
	}
	if t := aws.ToString(nextTok); t != "" {
		return visited, written, list + "|" + t, nil
	}
	switch list {
	case listRoleAliases:
		return visited, written, listTemplates + "|", nil
	case listTemplates:
		return visited, written, listCAs + "|", nil
	}
	return visited, written, "", nil
}
